package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/benchreport"
	"github.com/ipvsd/ipvsd/e2e/lab"
)

// guestServicesFile is where e2e/guest/benchreport reads the Services.
const guestServicesFile = "/lab/bench/services.txt"

// kubeCluster is a real API server holding n Services of
// benchreport.Backends endpoints each, for one VM run: its guest files
// (kubeconfigs, the Services' list) and a stop function.
func kubeCluster(dir string, n int, log func(string, ...any)) ([]lab.File, func() error, error) {
	s, err := apiserver.StartIn(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("starting the API server: %w", err)
	}
	files, err := populate(s, n, log)
	if err != nil {
		return nil, nil, errors.Join(err, s.Stop())
	}
	return files, s.Stop, nil
}

func populate(s *apiserver.Server, n int, log func(string, ...any)) ([]lab.File, error) {
	c, err := bulkClient(s.HostKubeconfig)
	if err != nil {
		return nil, err
	}
	// Creating 50,000 Services and their slices takes a while on a
	// loaded 2-core host; an hour is a bound, not an estimate.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := apiserver.EnsureNamespace(ctx, c, benchreport.Namespace); err != nil {
		return nil, err
	}
	if _, err := apiserver.CreateNode(ctx, c, "lab", nil, "10.0.2.15"); err != nil {
		return nil, err
	}
	t0 := time.Now()
	lines, err := createServices(ctx, c, n)
	if err != nil {
		return nil, err
	}
	log("created %d Services and %d EndpointSlices in %s", n, n, time.Since(t0).Round(time.Millisecond))
	files, err := s.GuestFiles()
	if err != nil {
		return nil, err
	}
	return append(files, lab.File{GuestPath: guestServicesFile, Data: []byte(strings.Join(lines, "\n") + "\n")}), nil
}

// createServices creates Services s00000... (TCP 80 to 8080), each with
// one EndpointSlice of ten ready endpoints on another node, and returns
// "NAME CLUSTERIP" for each, in order.
func createServices(ctx context.Context, c kubernetes.Interface, n int) ([]string, error) {
	const workers = 16
	lines := make([]string, n)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += workers {
				lines[i], errs[w] = createService(ctx, c, i)
			}
		})
	}
	wg.Wait()
	return lines, errors.Join(errs...)
}

func createService(ctx context.Context, c kubernetes.Interface, i int) (string, error) {
	svc, err := apiserver.CreateService(ctx, c, apiserver.NewService(benchreport.Namespace, fmt.Sprintf("s%05d", i), apiserver.TCPPort("http", 80, 8080)))
	if err != nil {
		return "", err
	}
	eps := make([]apiserver.Endpoint, benchreport.Backends)
	for j := range eps {
		eps[j] = apiserver.Endpoint{IP: benchreport.EndpointIP(i, j).String(), Node: "other"}
	}
	slice := apiserver.NewEndpointSlice(svc, svc.Name+"-1", eps, apiserver.SlicePort("http", 8080))
	if _, err := apiserver.CreateEndpointSlice(ctx, c, slice); err != nil {
		return "", err
	}
	return svc.Name + " " + svc.Spec.ClusterIP, nil
}

// bulkClient is an admin client without client-go's default rate limit
// (5 requests a second), which would make creating thousands of objects
// take an hour.
func bulkClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", filepath.Base(kubeconfig), err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	return kubernetes.NewForConfig(cfg)
}
