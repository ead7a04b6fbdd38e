package apiserver

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"k8s.io/client-go/kubernetes"
)

// A scale set-up is Services named ScaleService(i) in one namespace, each
// with one TCP port 80 -> 8080 and one EndpointSlice ScaleSlice(i) of
// ScaleEndpoint(i, j) for j < endpoints: the shape of the issue's
// "N Services x 10 endpoints", shared by the profiling run and the bench
// report so their figures mean the same thing.

// ScaleService is the name of the i-th Service.
func ScaleService(i int) string { return fmt.Sprintf("s%05d", i) }

// ScaleSlice is the name of the i-th Service's EndpointSlice.
func ScaleSlice(i int) string { return ScaleService(i) + "-1" }

// ScaleEndpoint is the address of endpoint j of Service i: 10.(64+j).x.y,
// unique for i below 62,500 and j below 64, and in no other test's range.
func ScaleEndpoint(i, j int) string {
	return fmt.Sprintf("10.%d.%d.%d", 64+j, i/250, i%250+1)
}

// ScaleEndpoints are the endpoints of Service i (on no node: remote).
func ScaleEndpoints(i, endpoints int) []Endpoint {
	eps := make([]Endpoint, endpoints)
	for j := range eps {
		eps[j] = Endpoint{IP: ScaleEndpoint(i, j)}
	}
	return eps
}

// BulkAdmin is an admin client without client-go's default rate limit (5
// requests a second), for creating thousands of objects before a test.
func (s *Server) BulkAdmin() (kubernetes.Interface, error) {
	cfg := s.restConfig("127.0.0.1", s.pki.AdminToken)
	cfg.QPS, cfg.Burst = -1, 0 // a negative QPS turns the limiter off
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("bulk admin client: %w", err)
	}
	return c, nil
}

// CreateScale creates Services 0 to n-1 of the scale set-up in namespace
// ns (which it creates), with workers requests in flight. It stops at the
// first failures and returns them joined, naming each object.
func CreateScale(ctx context.Context, c kubernetes.Interface, ns string, n, endpoints, workers int) error {
	if err := EnsureNamespace(ctx, c, ns); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := createScaleService(ctx, c, ns, i, endpoints); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

func createScaleService(ctx context.Context, c kubernetes.Interface, ns string, i, endpoints int) error {
	svc, err := CreateService(ctx, c, NewService(ns, ScaleService(i), TCPPort("http", 80, 8080)))
	if err != nil {
		return err
	}
	_, err = CreateEndpointSlice(ctx, c, NewEndpointSlice(svc, ScaleSlice(i), ScaleEndpoints(i, endpoints), SlicePort("http", 8080)))
	return err
}
