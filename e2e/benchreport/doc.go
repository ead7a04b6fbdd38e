// Package benchreport is the scale report of issue 15 (make bench-report):
// the workload both sides of a run agree on (the generated standalone
// file, the Kubernetes objects' addresses), the figures the guest prints
// and their parsing, and the rendering of the results as a text table and
// a PNG plot, and of the data path's connection-setup figures (item 4:
// through one ClusterIP against the backend directly, ipvsd against
// kube-proxy nftables) as their own table and plot. It is plain data and
// pure functions; the VM runs are in
// e2e/cmd/benchreport and e2e/guest/benchreport.
package benchreport
