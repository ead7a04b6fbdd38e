// Package healthcheck serves the healthCheckNodePort of every Service with
// externalTrafficPolicy Local, on every node: a load balancer probes it and
// sends traffic only to nodes that answer 200. The response is the one
// kube-proxy gives, so existing cloud load balancers and tools read it.
package healthcheck
