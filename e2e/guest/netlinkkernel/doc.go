//go:build lab

// Package netlinkkernel tests netlinkutil inside the kernel lab, whose
// kernel (unlike the host's) has the dummy driver and IPVS: the dummy
// interface's life cycle and VIPs, the IPVS sysctls under the real
// /proc/sys, and conntrack clean-up after a UDP real server is removed.
package netlinkkernel
