package proxyconfig

import (
	kpv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
)

// Group version and kind a configuration file must declare, as kube-proxy
// requires.
const (
	APIVersion = "kubeproxy.config.k8s.io/v1alpha1"
	Kind       = "KubeProxyConfiguration"
)

// Config is the whole configuration of `ipvsd run`.
type Config struct {
	// KubeProxyConfiguration is inlined: the file is kube-proxy's.
	kpv1alpha1.KubeProxyConfiguration `json:",inline"`
	// IPVSD is ipvsd's own extension, which kube-proxy ignores.
	IPVSD Extension `json:"ipvsd"`
	// Master is kube-proxy's --master: the API server's URL, overriding
	// the kubeconfig's. A flag only, as in kube-proxy.
	Master string `json:"-"`
}

// Extension holds the settings kube-proxy has no field for.
type Extension struct {
	// Interface is the dummy link that holds the service addresses
	// (kube-proxy's is kube-ipvs0, which ipvsd leaves to kube-proxy so the
	// two never fight over one link).
	Interface string `json:"interface,omitempty"`
	// RecordPath is the ownership record: which virtual servers ipvsd
	// created, so that it never deletes one it did not.
	RecordPath string `json:"recordPath,omitempty"`
}
