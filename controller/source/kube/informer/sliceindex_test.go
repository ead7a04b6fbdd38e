package informer

import (
	"slices"
	"testing"

	"k8s.io/client-go/tools/cache"
)

// TestSliceIndex: the index follows adds, updates (a slice moving to
// another service included), deletes by tombstone and an add after a
// missed delete, one entry per slice.
func TestSliceIndex(t *testing.T) {
	cs := func(name, svc, rv string) *cachedSlice {
		return &cachedSlice{name: name, namespace: "ns", service: svc, resourceVersion: rv}
	}
	names := func(x *sliceIndex, svc string) []string {
		var out []string
		for _, c := range x.of(svc) {
			out = append(out, c.name+"@"+c.resourceVersion)
		}
		return out
	}
	var x sliceIndex
	a1, b1 := cs("a", "ns/web", "1"), cs("b", "ns/web", "1")
	for _, step := range []struct {
		name     string
		old, obj any
		web, api []string
	}{
		{"add a", nil, a1, []string{"a@1"}, nil},
		{"add b", nil, b1, []string{"a@1", "b@1"}, nil},
		{"update a", a1, cs("a", "ns/web", "2"), []string{"b@1", "a@2"}, nil},
		{"move b", b1, cs("b", "ns/api", "2"), []string{"a@2"}, []string{"b@2"}},
		{"add a again, a delete missed", nil, cs("a", "ns/web", "3"), []string{"a@3"}, []string{"b@2"}},
		{"delete b by tombstone", cache.DeletedFinalStateUnknown{Key: "ns/b", Obj: cs("b", "ns/api", "2")}, nil, []string{"a@3"}, nil},
		{"a slice without a service", nil, cs("c", "", "1"), []string{"a@3"}, nil},
	} {
		x.update(step.old, step.obj)
		if got := names(&x, "ns/web"); !slices.Equal(got, step.web) {
			t.Errorf("%s: ns/web has %v, want %v", step.name, got, step.web)
		}
		if got := names(&x, "ns/api"); !slices.Equal(got, step.api) {
			t.Errorf("%s: ns/api has %v, want %v", step.name, got, step.api)
		}
	}
	if len(x.bySvc) != 1 {
		t.Errorf("index holds %d services, want 1 (no empty lists kept)", len(x.bySvc))
	}
}
