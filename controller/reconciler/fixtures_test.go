package reconciler_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/desired/desiredtest"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// The web fixture: three virtual servers on two VIPs, one of each family,
// that most tests start from and change one thing in.
var (
	web  = desiredtest.TCP("192.0.2.1:80")
	dns  = desiredtest.UDP("192.0.2.1:53")
	web6 = desiredtest.TCP("[2001:db8::1]:443")
	// drop is the web real server that withoutDrop removes.
	drop = desiredtest.Dest("10.0.0.2:80", 0).DestKey
)

func webDesired() desired.State {
	d := desired.State{Services: []desired.VirtualServer{
		desiredtest.VServer(web, "rr", desiredtest.Dest("10.0.0.2:80", 1), desiredtest.Dest("10.0.0.1:80", 2)),
		desiredtest.VServer(dns, "wrr", desiredtest.Dest("10.0.0.3:53", 1)),
		desiredtest.VServer(web6, "wlc", desiredtest.Dest("[2001:db8::10]:8443", 1)),
	}}
	d.Addresses = d.ServiceAddresses()
	return d
}

// withoutDrop is webDesired minus the TCP real server 10.0.0.2:80.
func withoutDrop() desired.State {
	d := webDesired()
	d.Services[0].Destinations = d.Services[0].Destinations[1:]
	return d
}

// The host once webDesired is synced, as env.state renders it: the IPVS
// table of web, dns and web6, then the links. A test that expects another
// state builds it from these pieces, or edits a line of them, so that it
// says only what differs.
const (
	webTCP = `TCP  192.0.2.1:80 rr
  -> 10.0.0.1:80                  Masq    2      0          0
  -> 10.0.0.2:80                  Masq    1      0          0
`
	webUDP = `UDP  192.0.2.1:53 wrr
  -> 10.0.0.3:53                  Masq    1      0          0
`
	webV6 = `TCP  [2001:db8::1]:443 wlc
  -> [2001:db8::10]:8443          Masq    1      0          0
`
	webTable = webTCP + webUDP + webV6
	webLinks = `dummy 192.0.2.1
dummy 2001:db8::1
`
	webState = webTable + webLinks
)

// edit returns golden text with lines replaced. changes are pairs: a key,
// found in exactly one line, and the lines that replace that line ("" drops
// it). It panics on a key that names no line or several: the test itself is
// wrong then.
func edit(text string, changes ...string) string {
	if len(changes)%2 != 0 {
		panic("edit: changes are key, replacement pairs")
	}
	lines := strings.SplitAfter(text, "\n")
	for i := 0; i < len(changes); i += 2 {
		key, with := changes[i], changes[i+1]
		at := -1
		for j, l := range lines {
			if strings.Contains(l, key) {
				if at >= 0 {
					panic(fmt.Sprintf("edit: %q is in more than one line", key))
				}
				at = j
			}
		}
		if at < 0 {
			panic(fmt.Sprintf("edit: %q is in no line", key))
		}
		lines[at] = with
	}
	return strings.Join(lines, "")
}

// driftWeb changes the synced web state by hand, as an administrator
// would: dns deleted, a web weight raised, web6's VIP taken off the link.
func (e *env) driftWeb() {
	e.t.Helper()
	must(e.t, e.kernel.DeleteService(dns))
	must(e.t, e.kernel.UpdateDestination(web, desiredtest.Dest("10.0.0.1:80", 100)))
	e.addrs.RemoveDummy(addr("2001:db8::1"))
}

// addServices puts services into k as another tool would, failing the test
// on the first error.
func addServices(t *testing.T, k *ipvstest.Fake, svcs ...ipvs.ServiceConfig) {
	t.Helper()
	for _, s := range svcs {
		must(t, k.AddService(s.Service))
		for _, d := range s.Destinations {
			must(t, k.AddDestination(s.Key, d))
		}
	}
}

// anyService, given to failing, matches every service (and Dump, which
// names none).
var anyService ipvs.Key

// failing is a hook that fails every op of one kind on key with err.
func failing(op ipvstest.Op, key ipvs.Key, err error) ipvstest.Hook {
	return func(o ipvstest.Op, k ipvs.Key, _ ipvs.DestKey) error {
		if o == op && (key == anyService || k == key) {
			return err
		}
		return nil
	}
}
