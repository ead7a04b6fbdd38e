package informer

import (
	"slices"
	"sync"

	"k8s.io/client-go/tools/cache"
)

// sliceIndex is the cached EndpointSlices by service key, kept by the
// slice informer's event handler. The informer's own index did the same
// with a set (a map) of slice keys per service: some 3 MB at 10,000
// Services, where a slice of pointers per service is a third of it.
// Translation reads it after the handler that changed it has marked the
// service, so it sees what the mark was for.
type sliceIndex struct {
	mu    sync.Mutex
	bySvc map[string][]*cachedSlice
}

// update replaces old (nil: none) with obj (nil: none); either may be a
// tombstone.
func (x *sliceIndex) update(old, obj any) {
	o, n := cachedOf(old), cachedOf(obj)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.bySvc == nil {
		x.bySvc = map[string][]*cachedSlice{}
	}
	if o != nil {
		x.remove(o)
	}
	if n != nil {
		x.remove(n) // an add after a missed delete
		if n.service != "" {
			x.bySvc[n.service] = append(x.bySvc[n.service], n)
		}
	}
}

// remove drops the slice named as c from c's service.
func (x *sliceIndex) remove(c *cachedSlice) {
	l := slices.DeleteFunc(x.bySvc[c.service], func(s *cachedSlice) bool {
		return s.name == c.name && s.namespace == c.namespace
	})
	if len(l) == 0 {
		delete(x.bySvc, c.service)
	} else {
		x.bySvc[c.service] = slices.Clip(l)
	}
}

// of is the service's cached slices, a copy.
func (x *sliceIndex) of(service string) []*cachedSlice {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.bySvc[service])
}

func cachedOf(obj any) *cachedSlice {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	c, _ := obj.(*cachedSlice)
	return c
}
