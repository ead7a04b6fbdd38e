package app

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// restConfig is the API client's configuration: from the kubeconfig file
// and/or master URL when either is given, else a pod's in-cluster
// configuration (its service-account token and CA, and
// KUBERNETES_SERVICE_HOST/PORT), as kube-proxy chooses. client-go's
// BuildConfigFromFlags would fall back from a failed in-cluster
// configuration to an empty one and report only that ("no configuration
// has been provided, try setting KUBERNETES_MASTER"), hiding why the pod's
// own configuration did not load.
func restConfig(master, kubeconfig string) (*rest.Config, error) {
	if master == "" && kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no --kubeconfig, clientConnection.kubeconfig or --master, and no in-cluster configuration: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags(master, kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}
