package informer

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Labels that hand a Service or its slices to another proxy, or mark
// slices of headless services, which no proxy programs.
const (
	labelServiceProxyName = "service.kubernetes.io/service-proxy-name"
	labelHeadless         = corev1.IsHeadlessService
)

// watches are the three informers and their caches.
type watches struct {
	services, sliceInf, nodes cache.SharedIndexInformer
	// slices is the EndpointSlices by service, kept by the slice
	// handler (slicesHandled).
	slices        sliceIndex
	slicesHandled cache.ResourceEventHandlerRegistration
	serviceLister corelisters.ServiceLister
	nodeLister    corelisters.NodeLister
	nodeName      string
}

// touchFunc marks one service ("ns/name") as changed; endpoints says the
// change came from an EndpointSlice.
type touchFunc func(key string, endpoints bool)

func newInformers(client Client, nodeName string, touch touchFunc, nodeTouched func(), log *zap.Logger) *watches {
	// No periodic informer resync: every change is an event, and the sync
	// loop's full resync compares what was translated with the kernel.
	slim := &slimmer{}
	notOurs := func(o *metav1.ListOptions) {
		o.LabelSelector = "!" + labelServiceProxyName + ",!" + labelHeadless
	}
	thisNode := func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", nodeName).String()
	}
	core, disc := client.CoreV1(), client.DiscoveryV1()
	in := &watches{
		services: newInformer(client, &corev1.Service{}, slim, notOurs,
			core.Services("").List, core.Services("").Watch),
		sliceInf: newInformer(client, &discoveryv1.EndpointSlice{}, slim, notOurs,
			disc.EndpointSlices("").List, disc.EndpointSlices("").Watch),
		nodes: newInformer(client, &corev1.Node{}, slim, thisNode,
			core.Nodes().List, core.Nodes().Watch),
		nodeName: nodeName,
	}
	in.serviceLister = corelisters.NewServiceLister(in.services.GetIndexer())
	in.nodeLister = corelisters.NewNodeLister(in.nodes.GetIndexer())
	onService := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { touch(serviceKey(obj), false) },
		UpdateFunc: func(_, obj any) { touch(serviceKey(obj), false) },
		DeleteFunc: func(obj any) { touch(serviceKey(obj), false) },
	}
	onSlice := cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			in.slices.update(nil, obj)
			touch(serviceKey(obj), true)
		},
		UpdateFunc: func(old, obj any) {
			in.slices.update(old, obj)
			// A slice moved to another service touches both.
			touch(serviceKey(old), true)
			touch(serviceKey(obj), true)
		},
		DeleteFunc: func(obj any) {
			in.slices.update(obj, nil)
			touch(serviceKey(obj), true)
		},
	}
	onNode := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { nodeTouched() },
		UpdateFunc: func(any, any) { nodeTouched() },
		DeleteFunc: func(any) { nodeTouched() },
	}
	// Handlers are added before the informers start, so they cannot fail.
	_ = in.services.SetWatchErrorHandlerWithContext(watchErrors(log, "services"))
	_ = in.sliceInf.SetWatchErrorHandlerWithContext(watchErrors(log, "endpointslices."+discoveryv1.GroupName))
	_ = in.nodes.SetWatchErrorHandlerWithContext(watchErrors(log, "nodes"))
	_, _ = in.services.AddEventHandler(onService)
	in.slicesHandled, _ = in.sliceInf.AddEventHandler(onSlice)
	_, _ = in.nodes.AddEventHandler(onNode)
	return in
}

// start runs the informers and waits until their caches hold a full list.
func (in *watches) start(ctx context.Context) error {
	for _, inf := range []cache.SharedIndexInformer{in.services, in.sliceInf, in.nodes} {
		go inf.RunWithContext(ctx)
	}
	// The slices are read from the handler's index: wait for the handler
	// to have seen the whole first list, not only the cache.
	if !cache.WaitForCacheSync(ctx.Done(), in.services.HasSynced, in.sliceInf.HasSynced, in.slicesHandled.HasSynced, in.nodes.HasSynced) {
		return fmt.Errorf("waiting for informers to sync: %w", errors.Join(ctx.Err(), errors.New("not synced")))
	}
	return nil
}

// service returns the cached Service "ns/name", or nil if it is gone.
func (in *watches) service(key string) (*corev1.Service, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, err
	}
	svc, err := in.serviceLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return svc, err
}

// serviceSlices returns the cached EndpointSlices of the service "ns/name".
func (in *watches) serviceSlices(key string) ([]*discoveryv1.EndpointSlice, error) {
	cached := in.slices.of(key)
	out := make([]*discoveryv1.EndpointSlice, 0, len(cached))
	for _, c := range cached {
		out = append(out, c.slice())
	}
	return out, nil
}

// serviceKeys lists every cached service.
func (in *watches) serviceKeys() []string {
	return in.services.GetStore().ListKeys()
}

// node returns this node from the cache, or nil if it does not exist.
func (in *watches) node() (*corev1.Node, error) {
	n, err := in.nodeLister.Get(in.nodeName)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return n, err
}

// newInformer is a shared informer of one kind, listed and watched with
// tweak applied and slimmed before its cache. It is what client-go's
// informer factory builds, without the factory, which links every API
// group's informers and clients into the binary.
func newInformer[L runtime.Object](client Client, obj runtime.Object, slim *slimmer, tweak func(*metav1.ListOptions),
	list func(context.Context, metav1.ListOptions) (L, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			tweak(&o)
			return list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			tweak(&o)
			return watchFn(ctx, o)
		},
	}
	// client tells the reflector whether it may stream the initial list
	// (a fake clientset cannot). No index, not even the namespace index
	// the factory adds: the listers only get by key (the slices by
	// service are sliceIndex), and at 10,000 Services the index's sets
	// were some 2 MB.
	inf := cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, client), obj,
		cache.SharedIndexInformerOptions{Indexers: cache.Indexers{}})
	_ = inf.SetTransform(slim.transform) // before it runs: cannot fail
	return inf
}
