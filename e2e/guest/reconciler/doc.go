//go:build lab

// Package reconciler tests reconciler.Reconciler against the lab VM's real
// IPVS: desired states reached exactly (checked with the guest's ipvsadm),
// foreign services untouched, restarts that keep connections, and the drain
// of a busy real server.
package reconciler
