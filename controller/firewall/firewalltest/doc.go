// Package firewalltest is what the firewall's tests against a real
// iptables and ipset share: the host tests (controller/firewall/hosttest,
// in a private network namespace) and the lab guest tests
// (e2e/guest/firewall, in the kernel lab VM). It runs the tools, takes
// iptables-save snapshots that compare as text, and installs a
// Calico-like ruleset whose lines ours must leave untouched.
//
// Its functions fail the test on any error; they change the namespace
// they run in, so call them only where that is private.
package firewalltest
