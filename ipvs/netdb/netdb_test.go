package netdb

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLookups(t *testing.T) {
	hosts := write(t, "hosts", `# comment
127.0.0.1	localhost
127.0.0.1	second-line-loses
::1 localhost ip6-localhost
10.0.0.1 Web.Example web # trailing comment
fe80::1%eth0 zoned
10.1 shorthand-is-not-inet_pton
2001:db8::1 six
`)
	services := write(t, "services", `http		80/tcp		www		# WorldWideWeb HTTP
domain		53/tcp
domain		53/udp
sip		5060/udp
sip-alias	5060/udp
bogus		notaport/tcp
`)
	db, err := Load(hosts, services)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{"127.0.0.1": "localhost", "::1": "localhost", "10.0.0.1": "Web.Example", "2001:db8::1": "six"} {
		if got, ok := db.Host(netip.MustParseAddr(addr)); !ok || got != want {
			t.Errorf("Host(%s) = %q, %v; want %q", addr, got, ok, want)
		}
	}
	for _, addr := range []string{"10.0.0.2", "fe80::1", "::ffff:127.0.0.1"} {
		if got, ok := db.Host(netip.MustParseAddr(addr)); ok {
			t.Errorf("Host(%s) = %q, want no name", addr, got)
		}
	}
	if got, ok := db.Service(80, "tcp"); !ok || got != "http" {
		t.Errorf("Service(80, tcp) = %q, %v", got, ok)
	}
	if got, ok := db.Service(80, "udp"); ok {
		t.Errorf("Service(80, udp) = %q, want none", got)
	}
	if got, ok := db.Service(5060, "udp"); !ok || got != "sip" {
		t.Errorf("Service(5060, udp) = %q, want the first line's name", got)
	}
	if a, ok := db.HostAddr("WEB"); !ok || a != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("HostAddr(WEB) = %v, %v", a, ok)
	}
	if _, ok := db.HostAddr("six"); ok {
		t.Error("HostAddr found an IPv6 address; gethostbyname's AF_INET lookup would not")
	}
	if p, ok := db.Port("www", "tcp"); !ok || p != 80 {
		t.Errorf("Port(www, tcp) = %d, %v", p, ok)
	}
}

func TestMissingFilesAreEmpty(t *testing.T) {
	db, err := Load(filepath.Join(t.TempDir(), "nope"), filepath.Join(t.TempDir(), "nope"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := db.Host(netip.MustParseAddr("127.0.0.1")); ok {
		t.Error("a missing hosts file named an address")
	}
}
