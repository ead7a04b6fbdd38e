// Package hosttest runs the firewall against the real iptables (nft and
// legacy) and ipset of this host, inside a private network namespace
// (nettest.RunIsolated), next to a Calico-like ruleset that must come out
// untouched. It needs root and no IPVS: it checks what is programmed, not
// traffic (that is the kernel lab's job).
package hosttest
