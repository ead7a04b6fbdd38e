package app

import (
	"strings"
	"testing"
)

func TestRESTConfig(t *testing.T) {
	for _, c := range []struct {
		name, master, kubeconfig string
		env                      map[string]string
		wantHost, wantErr        string
	}{
		{name: "outside a pod, nothing given", env: map[string]string{"KUBERNETES_SERVICE_HOST": "", "KUBERNETES_SERVICE_PORT": ""},
			wantErr: "no --kubeconfig, clientConnection.kubeconfig or --master, and no in-cluster configuration: unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"},
		{name: "port without host", env: map[string]string{"KUBERNETES_SERVICE_HOST": "", "KUBERNETES_SERVICE_PORT": "6443"},
			wantErr: "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"},
		{name: "master alone, no in-cluster lookup", master: "https://192.0.2.10:6443",
			env: map[string]string{"KUBERNETES_SERVICE_HOST": "", "KUBERNETES_SERVICE_PORT": ""}, wantHost: "https://192.0.2.10:6443"},
		{name: "missing kubeconfig file", kubeconfig: "/nonexistent/kubeconfig",
			wantErr: "kubeconfig: stat /nonexistent/kubeconfig: no such file or directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := restConfig(c.master, c.kubeconfig)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != c.wantHost {
				t.Errorf("host %q, want %q", cfg.Host, c.wantHost)
			}
		})
	}
}
