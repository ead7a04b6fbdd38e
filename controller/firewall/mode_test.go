package firewall

import "testing"

func TestParseVersionMode(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want Mode // "" is an error
	}{
		{"iptables v1.8.9 (nf_tables)\n", ModeNFT},
		{"ip6tables-save v1.8.10 (legacy)\n", ModeLegacy},
		// Before 1.8 there was only x_tables, and no mode printed.
		{"iptables v1.6.1\n", ModeLegacy},
		{"iptables v1.8.9 (bpf)\n", ""},
		{"usage: iptables\n", ""},
	} {
		got, err := parseVersionMode("/usr/sbin/iptables", tc.out)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("%q: got %q, %v; want %q", tc.out, got, err, tc.want)
		}
	}
}
