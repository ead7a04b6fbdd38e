// Package firewalltest is what the firewall's tests share.
//
// Host is a stateful fake of a network namespace's iptables and ipsets,
// behind the firewall.IPTables and firewall.IPSet interfaces, for unit
// tests of Firewall that need neither the tools nor root.
//
// The rest runs the real tools, for the host tests
// (controller/firewall/hosttest, in a private network namespace) and the
// lab guest tests (e2e/guest/firewall, in the kernel lab VM): it takes
// iptables-save snapshots that compare as text and installs a Calico-like
// ruleset whose lines ours must leave untouched. Those functions fail the
// test on any error; they change the namespace they run in, so call them
// only where that is private.
package firewalltest
