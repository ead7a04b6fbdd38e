// Package kernelsettings keeps the node-wide kernel settings that
// kube-proxy's IPVS mode makes: IPVS's connection timeouts, the conntrack
// table size and timeouts, and strict ARP. They are set at start and
// repaired at every full resync (kube-proxy sets them once), each change
// logged with the old and the new value, so that a value somebody changed
// by hand comes back within one sync period and says so.
//
// What to set is plain data (Settings) computed from the configuration;
// the Tuner applies it through the sysctl files and the IPVS netlink
// interface, both replaceable in tests.
package kernelsettings
