package proxyconfig

import (
	"reflect"
	"sort"

	kpv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
)

// Ignored names the fields a file sets that mean nothing to an IPVS
// proxy: the other proxy modes' settings, Windows' and the long-unused
// ones. They are accepted, so that kube-proxy's own file works unchanged,
// and named once in the log, so that nobody believes they took effect.
// Call it on the file as decoded, before SetDefaults.
func Ignored(c *Config) []string {
	k := &c.KubeProxyConfiguration
	checks := []struct {
		path string
		set  bool
	}{
		// kube-proxy's IPVS mode reads only iptables.masqueradeAll and
		// iptables.masqueradeBit of this section.
		{"iptables.syncPeriod", k.IPTables.SyncPeriod.Duration != 0},
		{"iptables.minSyncPeriod", k.IPTables.MinSyncPeriod.Duration != 0},
		{"iptables.localhostNodePorts", k.IPTables.LocalhostNodePorts != nil},
		{"nftables", !reflect.ValueOf(k.NFTables).IsZero()},
		{"winkernel", !reflect.ValueOf(k.Winkernel).IsZero()},
		{"windowsRunAsService", k.WindowsRunAsService},
		// kube-proxy's informers replay their caches this often; a replay
		// would translate again what every event already translated, and
		// ipvsd's full resync (ipvs.syncPeriod) repairs the kernel from
		// that state.
		{"configSyncPeriod", k.ConfigSyncPeriod.Duration != 0 && k.ConfigSyncPeriod.Duration != defaultConfigSync},
		{"portRange", k.PortRange != ""},
		{"showHiddenMetricsForVersion", k.ShowHiddenMetricsForVersion != ""},
		// ipvsd logs through zap; --log-level sets its level.
		// (kubeadm writes the section with zero values; only a setting
		// somebody made is worth a line.)
		{"logging", k.Logging.Verbosity != 0 || len(k.Logging.VModule) > 0 || (k.Logging.Format != "" && k.Logging.Format != "text")},
	}
	var out []string
	for _, ch := range checks {
		if ch.set {
			out = append(out, ch.path)
		}
	}
	for _, g := range ignoredGates(k) {
		out = append(out, "featureGates."+g)
	}
	return out
}

// ignoredGates are all the gates set: ipvsd has no feature gates of its
// own and behaves as kube-proxy 1.35 with its default gates (topology
// hints, trafficDistribution, terminating endpoints: all on), so turning
// one off or on changes nothing here.
func ignoredGates(k *kpv1alpha1.KubeProxyConfiguration) []string {
	out := make([]string, 0, len(k.FeatureGates))
	for g := range k.FeatureGates {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}
