//go:build lab

package faults

import (
	"slices"
	"testing"
)

// foreignCommands are another program's virtual servers, as ipvsadm
// commands: one on a VIP of ours with a port we do not manage, one with
// persistence and direct routing, a UDP one and a firewall-mark one, each
// with a real server whose weight ipvsd never writes.
var foreignCommands = [][]string{
	{"-A", "-t", "10.96.0.1:443", "-s", "wlc"},
	{"-a", "-t", "10.96.0.1:443", "-r", "10.100.50.1:443", "-m", "-w", "3"},
	{"-A", "-t", "192.0.2.50:22", "-s", "lc", "-p", "120"},
	{"-a", "-t", "192.0.2.50:22", "-r", "10.100.51.1:22", "-g", "-w", "2"},
	{"-A", "-u", "192.0.2.53:53", "-s", "sh"},
	{"-a", "-u", "192.0.2.53:53", "-r", "10.100.52.1:53", "-m", "-w", "5"},
	{"-A", "-f", "77", "-s", "rr"},
	{"-a", "-f", "77", "-r", "10.100.53.1:0", "-g", "-w", "7"},
}

// addForeign adds foreignCommands with the real ipvsadm and returns their
// service ids and their lines as `ipvsadm -Sn` prints them: what must
// stay byte for byte as it is.
func addForeign(t *testing.T) (ids, lines []string) {
	t.Helper()
	for _, c := range foreignCommands {
		run(t, "ipvsadm", c...)
		if id := c[1] + " " + c[2]; !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	lines = readTable(t, ids).foreign
	if len(lines) != len(foreignCommands) {
		t.Fatalf("ipvsadm -Sn shows %d foreign lines after %d commands:\n%s", len(lines), len(foreignCommands), sample(lines, 20))
	}
	return ids, lines
}

// checkForeign fails the test unless the foreign lines of tb are want, in
// ipvsadm's order, and returns how many lines differ.
func checkForeign(t *testing.T, when string, tb table, want []string) int {
	t.Helper()
	if slices.Equal(tb.foreign, want) {
		return 0
	}
	missing, extra := diff(sorted(want), sorted(tb.foreign))
	t.Errorf("%s: foreign virtual servers changed:\nwas:\n%s\nnow:\n%s", when, sample(want, 20), sample(tb.foreign, 20))
	return max(len(missing)+len(extra), 1)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
