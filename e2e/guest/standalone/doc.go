//go:build lab

// Package standalone tests `ipvsd standalone` end to end inside the lab VM:
// the real binary (on PATH as ipvsd) driven by config files and signals,
// checked with the guest's ipvsadm and iptables and with real traffic from
// network namespaces.
package standalone
