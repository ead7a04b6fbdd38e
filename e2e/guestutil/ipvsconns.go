package guestutil

import (
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/e2e/nettest"
)

// Conn is one entry of the kernel's IPVS connection table.
type Conn struct {
	Protocol, State, Virtual, Destination string
}

// IPVSConns is `ipvsadm -Lnc` in ns (nil: the VM's namespace), keyed by
// the client's address and port: which director holds a flow, and to
// which real server.
func IPVSConns(t testing.TB, ns *nettest.NS) map[string]Conn {
	t.Helper()
	var out string
	if ns != nil {
		out = ns.Run(t, "/usr/sbin/ipvsadm", "-Lnc")
	} else {
		out = Run(t, "/usr/sbin/ipvsadm", "-Lnc")
	}
	conns := map[string]Conn{}
	for _, l := range strings.Split(out, "\n") {
		// pro expire state source virtual destination
		if f := strings.Fields(l); len(f) == 6 && f[0] != "pro" {
			conns[f[3]] = Conn{Protocol: f[0], State: f[2], Virtual: f[4], Destination: f[5]}
		}
	}
	return conns
}

// SyncDaemons is `ipvsadm -L --daemon` in ns: one line per running
// connection sync daemon.
func SyncDaemons(t testing.TB, ns *nettest.NS) string {
	t.Helper()
	return ns.Run(t, "/usr/sbin/ipvsadm", "-L", "--daemon")
}
