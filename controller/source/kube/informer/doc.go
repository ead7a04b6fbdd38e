// Package informer feeds the dataplane programmer from the Kubernetes API:
// informers for Services, EndpointSlices and this node's Node, and the
// translation (package kube) of only the services an event touched into
// an incremental change. Nothing is handed over before the informers have
// synced, so a restart never deletes what a partial cache does not list
// yet.
package informer
