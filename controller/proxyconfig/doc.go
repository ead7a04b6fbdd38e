// Package proxyconfig is the Kubernetes mode's configuration: kube-proxy's
// own KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1, the
// published Go types of k8s.io/kube-proxy), so that the file a kube-proxy
// DaemonSet mounts configures ipvsd unchanged, plus ipvsd's few settings of
// its own under a top-level `ipvsd:` key.
//
// kube-proxy decodes that key away (its lenient v1alpha1 decoder drops
// unknown fields after one log line), so one file serves both proxies
// while a node moves from one to the other. ipvsd decodes strictly: a
// misspelt field is an error naming its path, not a setting silently lost.
//
// The flow is Load (file, strict) → SetDefaults (kube-proxy's IPVS-mode
// defaults) → Overlay (the flags given on the command line, which win) →
// Validate (every problem at once, each with its field path). Ignored
// names the fields that mean nothing to an IPVS proxy, for one log line.
package proxyconfig
