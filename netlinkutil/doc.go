// Package netlinkutil holds ipvsd's node-side plumbing below IPVS itself:
// the dummy interface that carries the virtual IPs, the sysctls IPVS needs,
// and the conntrack clean-up after a UDP backend goes away. Everything talks
// to the kernel over netlink through small interfaces (Handle,
// ConntrackHandle) that *netlink.Handle satisfies as is, so the reconciler
// can be tested against the stateful fake in netlinktest.
package netlinkutil
