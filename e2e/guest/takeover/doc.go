//go:build lab

// Package takeover runs inside the lab VM against the real kube-apiserver
// that the host test (e2e/takeover_test.go) runs: the real kube-proxy
// v1.35.4 in IPVS mode programs the node first, then `ipvsd run
// --take-over-kube-proxy` takes it over while established connections
// keep exchanging, and `ipvsd cleanup --kube-proxy` clears a node
// kube-proxy left.
package takeover
