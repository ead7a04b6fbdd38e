//go:build lab

// Package list proves `ipvsd list` in the lab: for every ipvsadm listing
// option, on generated tables and on busy ones, its output must be byte for
// byte what the guest's ipvsadm 1.31 prints; owners and drift are checked
// against a real reconciler. Tests run in the VM's root namespace, one at
// a time, each starting from an empty IPVS table.
package list
