// Package apiserver runs a real etcd and kube-apiserver on the host's
// loopback for end-to-end tests, and creates the objects a cluster without a
// controller-manager never gets by itself (EndpointSlices, Nodes).
//
// The binaries come from the tools module in ./tools, built once by
// build.sh into .cache/apiserver and reused. The lab VM reaches the server
// at 10.0.2.2 (qemu user networking's alias for the host's loopback), which
// the serving certificate covers.
package apiserver
