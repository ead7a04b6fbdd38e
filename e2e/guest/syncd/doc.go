//go:build lab

// Package syncd tests the kernel's IPVS connection sync daemons inside the
// lab VM: ipvs.Handle's start, stop and listing against the fake's table
// and the guest's ipvsadm, and two directors in their own network
// namespaces, each running `ipvsd standalone` with a sync: section, where
// a connection made through the master appears in the backup's table with
// the same real server.
package syncd
