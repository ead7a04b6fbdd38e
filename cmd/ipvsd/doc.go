// Command ipvsd turns Linux IPVS into a node load balancer: a reconciler
// that makes the kernel's virtual servers match a desired state built from
// Kubernetes Services or a standalone YAML file.
package main
