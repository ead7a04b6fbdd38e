package proxyconfig

import (
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/source/kube"
)

// Marks are the packet mark bits the firewall uses: iptables.masqueradeBit
// (kube-proxy's, so that other agents reading the bit keep working), a
// drop bit next to it, and the range of local-traffic firewall marks below
// both.
type Marks struct {
	MasqueradeBit, DropBit uint
	// LocalMin and LocalMax bound the marks of externalTrafficPolicy
	// Local virtual servers (kube.DefaultMarkMin/Max when they fit).
	LocalMin, LocalMax uint32
}

// FirewallMarks derives Marks from iptables.masqueradeBit.
func FirewallMarks(c *Config) Marks {
	m := Marks{MasqueradeBit: uint(*c.IPTables.MasqueradeBit), DropBit: firewall.DefaultDropBit}
	if m.DropBit == m.MasqueradeBit {
		m.DropBit = firewall.DefaultMasqueradeBit
	}
	// The bits the firewall leaves for local marks, as it derives them.
	d := firewall.Desired{MasqueradeBit: m.MasqueradeBit, DropBit: m.DropBit}
	d.Defaults()
	below := d.LocalMarkMask
	m.LocalMin, m.LocalMax = kube.DefaultMarkMin, kube.DefaultMarkMax
	if below < m.LocalMax {
		// A low masquerade bit leaves fewer bits under it: use the top
		// three quarters of what is left.
		m.LocalMin, m.LocalMax = max(1, (below+1)/4), below
	}
	return m
}

// LocalInterface is the firewall's interface match for pod traffic in
// detectLocalMode BridgeInterface (the bridge) and InterfaceNamePrefix
// (the prefix, with iptables' "+"); "" in the CIDR-based modes.
func LocalInterface(c *Config) string {
	switch c.DetectLocalMode {
	case LocalModeBridge:
		return c.DetectLocal.BridgeInterface
	case LocalModeInterfaceName:
		return c.DetectLocal.InterfaceNamePrefix + "+"
	}
	return ""
}
