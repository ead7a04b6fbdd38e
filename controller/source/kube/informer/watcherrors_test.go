package informer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/ipvsd/ipvsd/controller/source/kube"
)

// A list the API server refuses is ipvsd's own error naming the resource,
// and the source keeps waiting for its first sync instead of programming
// from a partial view.
func TestWatchErrorsNameTheRefusedResource(t *testing.T) {
	for _, c := range []struct {
		name, resource string
		err            error
		want           string
	}{
		{"forbidden endpointslices", "endpointslices",
			apierrors.NewForbidden(schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}, "", errors.New(`User "system:serviceaccount:kube-system:ipvsd" cannot list resource "endpointslices"`)),
			"the API server forbids ipvsd to list and watch endpointslices.discovery.k8s.io"},
		{"forbidden services", "services",
			apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "", errors.New("no")),
			"the API server forbids ipvsd to list and watch services"},
		{"unauthorized nodes", "nodes", apierrors.NewUnauthorized("token expired"),
			"the API server refuses ipvsd's credentials reading nodes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			client := fake.NewClientset()
			client.PrependReactor("list", c.resource, func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, c.err
			})
			core, logs := observer.New(zap.ErrorLevel)
			src, err := New(Config{NodeName: "n1", Translate: kube.Options{Scheduler: "rr"}}, Deps{Client: client, Trigger: func() {}, Log: zap.New(core)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- src.Start(ctx) }()
			deadline := time.Now().Add(30 * time.Second)
			for logs.FilterMessageSnippet(c.want).Len() == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			startErr := <-done
			entries := logs.FilterMessageSnippet(c.want).All()
			if len(entries) == 0 {
				t.Fatalf("no error log %q; got %v", c.want, logs.All())
			}
			if got := entries[0].ContextMap()["error"]; !strings.Contains(got.(string), c.err.Error()) {
				t.Errorf("logged error %q, want the API server's %q", got, c.err)
			}
			if startErr == nil {
				t.Error("Start returned nil without a full list")
			}
		})
	}
}
