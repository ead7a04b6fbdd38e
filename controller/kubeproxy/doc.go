// Package kubeproxy finds what kube-proxy's IPVS mode left on a node and
// removes it in an order that breaks no established connection. Which
// virtual servers are kube-proxy's is read from kube-proxy's own
// bookkeeping (the addresses on its kube-ipvs0 link and its ipsets),
// never guessed from the table: everything else is foreign and stays.
// The decisions are pure functions over plain data; the kernel is behind
// the narrow interfaces the Remover takes.
package kubeproxy
