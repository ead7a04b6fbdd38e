//go:build lab

// Package faults puts `ipvsd standalone` through the faults of issue 13
// inside the lab VM, on the real kernel's IPVS table: SIGKILL at random
// moments of a cold sync of 10,000 services, and a full flush by hand
// (`ipvsadm -C`) while it runs. The judge is the guest's real ipvsadm
// (`ipvsadm -Sn`), the dummy link's addresses and the ownership record
// under /run/ipvsd as the daemon left it.
package faults
