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
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Labels that hand a Service or its slices to another proxy, or mark
// slices of headless services, which no proxy programs.
const (
	labelServiceProxyName = "service.kubernetes.io/service-proxy-name"
	labelHeadless         = corev1.IsHeadlessService
)

const indexByService = "service"

// watches are the three informers and their caches.
type watches struct {
	services, sliceInf, nodes cache.SharedIndexInformer
	svcFactory, nodeFactory   informers.SharedInformerFactory
	serviceLister             corelisters.ServiceLister
	nodeLister                corelisters.NodeLister
	nodeName                  string
}

// touchFunc marks one service ("ns/name") as changed; endpoints says the
// change came from an EndpointSlice.
type touchFunc func(key string, endpoints bool)

func newInformers(client kubernetes.Interface, nodeName string, touch touchFunc, nodeTouched func(), log *zap.Logger) *watches {
	// No periodic informer resync: every change is an event, and the sync
	// loop's full resync compares what was translated with the kernel.
	slim := &slimmer{}
	svcF := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTransform(slim.transform),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = "!" + labelServiceProxyName + ",!" + labelHeadless
		}))
	nodeF := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTransform(slim.transform),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", nodeName).String()
		}))
	in := &watches{
		services:      svcF.Core().V1().Services().Informer(),
		sliceInf:      svcF.Discovery().V1().EndpointSlices().Informer(),
		nodes:         nodeF.Core().V1().Nodes().Informer(),
		svcFactory:    svcF,
		nodeFactory:   nodeF,
		serviceLister: svcF.Core().V1().Services().Lister(),
		nodeLister:    nodeF.Core().V1().Nodes().Lister(),
		nodeName:      nodeName,
	}
	onService := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { touch(serviceKey(obj), false) },
		UpdateFunc: func(_, obj any) { touch(serviceKey(obj), false) },
		DeleteFunc: func(obj any) { touch(serviceKey(obj), false) },
	}
	onSlice := cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { touch(serviceKey(obj), true) },
		UpdateFunc: func(old, obj any) {
			// A slice moved to another service touches both.
			touch(serviceKey(old), true)
			touch(serviceKey(obj), true)
		},
		DeleteFunc: func(obj any) { touch(serviceKey(obj), true) },
	}
	onNode := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { nodeTouched() },
		UpdateFunc: func(any, any) { nodeTouched() },
		DeleteFunc: func(any) { nodeTouched() },
	}
	// Handlers and indexers are added before the informers start, so they
	// cannot fail.
	_ = in.services.SetWatchErrorHandlerWithContext(watchErrors(log, "services"))
	_ = in.sliceInf.SetWatchErrorHandlerWithContext(watchErrors(log, "endpointslices."+discoveryv1.GroupName))
	_ = in.nodes.SetWatchErrorHandlerWithContext(watchErrors(log, "nodes"))
	_, _ = in.services.AddEventHandler(onService)
	_, _ = in.sliceInf.AddEventHandler(onSlice)
	_, _ = in.nodes.AddEventHandler(onNode)
	_ = in.sliceInf.AddIndexers(cache.Indexers{indexByService: func(obj any) ([]string, error) {
		if k := serviceKey(obj); k != "" {
			return []string{k}, nil
		}
		return nil, nil
	}})
	return in
}

// start runs the informers and waits until their caches hold a full list.
func (in *watches) start(ctx context.Context) error {
	in.svcFactory.Start(ctx.Done())
	in.nodeFactory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), in.services.HasSynced, in.sliceInf.HasSynced, in.nodes.HasSynced) {
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
	objs, err := in.sliceInf.GetIndexer().ByIndex(indexByService, key)
	if err != nil {
		return nil, err
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, s)
		}
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
