// Package hostenv connects the reconciler to a real host: the IPVS handle,
// the dummy link that carries the VIPs, conntrack and the IPVS sysctls. The
// reconciler itself only sees narrow interfaces; this is the one place
// that binds them to netlink, and every command (run, standalone,
// cleanup) opens the host through it.
package hostenv
