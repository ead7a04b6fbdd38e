//go:build lab

// Package kube runs inside the lab VM against the real kube-apiserver that
// the host test (e2e/kube_test.go) runs on its loopback, reached at
// 10.0.2.2 over qemu's user network with the kubeconfigs the host ships.
package kube
