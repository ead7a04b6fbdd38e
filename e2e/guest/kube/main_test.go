//go:build lab

// Package kube runs inside the lab VM against the real kube-apiserver that
// the host test (e2e/kube_test.go) runs on its loopback, reached at
// 10.0.2.2 over qemu's user network with the kubeconfigs the host ships.
package kube

import (
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

// client is a clientset from one of the kubeconfigs the host shipped.
func client(t testing.TB, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", kubeconfig, err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client from %s: %v", kubeconfig, err)
	}
	return c
}
