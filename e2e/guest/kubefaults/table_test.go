//go:build lab

package kubefaults

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// table is `ipvsadm -Sn` read back: every line, and the services it names
// (the "-t 10.96.0.10:80" part of an -A line).
type table struct {
	lines    map[string]bool
	services map[string]bool
}

// parseTable reads `ipvsadm -Sn` output; the kernel's own tool, so what
// is compared is what the kernel holds, not what ipvsd thinks it wrote.
func parseTable(out string) table {
	tb := table{lines: map[string]bool{}, services: map[string]bool{}}
	for _, l := range strings.Split(out, "\n") {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			continue
		}
		tb.lines[l] = true
		if strings.HasPrefix(l, "-A ") {
			tb.services[serviceOf(l)] = true
		}
	}
	return tb
}

func readTable(t *testing.T) table {
	t.Helper()
	return parseTable(run(t, "ipvsadm", "-Sn"))
}

// serviceOf is the service part of an -A or -a line: "-t 10.96.0.10:80".
func serviceOf(line string) string {
	f := strings.Fields(line)
	if len(f) < 3 {
		return line
	}
	return f[1] + " " + f[2]
}

// diff compares a table with the expected lines: lost are expected lines
// the kernel lacks, wrong are kernel lines nobody expected (an extra or
// changed service or real server).
func diff(got table, want map[string]bool) (lost, wrong []string) {
	for l := range want {
		if !got.lines[l] {
			lost = append(lost, l)
		}
	}
	for l := range got.lines {
		if !want[l] {
			wrong = append(wrong, l)
		}
	}
	slices.Sort(lost)
	slices.Sort(wrong)
	return lost, wrong
}

// progress counts the expected services and real servers present.
func progress(got table, want map[string]bool) (svcs, svcsWant, dests, destsWant int) {
	for l := range want {
		isSvc := strings.HasPrefix(l, "-A ")
		if isSvc {
			svcsWant++
		} else {
			destsWant++
		}
		if got.lines[l] {
			if isSvc {
				svcs++
			} else {
				dests++
			}
		}
	}
	return svcs, svcsWant, dests, destsWant
}

// record is the part of /run/ipvsd/state.json this test reads, decoded
// here on its own rather than by ipvsd's loader, so a loader that
// misreads the file cannot agree with itself.
type record struct {
	Services []struct {
		Address  string `json:"address"`
		Protocol string `json:"protocol"`
		Port     int    `json:"port"`
		FWMark   int    `json:"fwmark"`
	} `json:"services"`
	Addresses []string `json:"addresses"`
}

// readRecord returns the record's services as ipvsadm names them and its
// addresses.
func readRecord(t *testing.T, path string) (services, addrs map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the ownership record: %v", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decoding the ownership record: %v\n%s", err, b)
	}
	services, addrs = map[string]bool{}, map[string]bool{}
	flag := map[string]string{"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}
	for _, s := range r.Services {
		switch {
		case s.FWMark != 0:
			services[fmt.Sprintf("-f %d", s.FWMark)] = true
		case flag[s.Protocol] != "":
			services[fmt.Sprintf("%s %s:%d", flag[s.Protocol], s.Address, s.Port)] = true
		default:
			t.Errorf("ownership record: service %+v has no protocol this test knows", s)
		}
	}
	for _, a := range r.Addresses {
		addrs[a] = true
	}
	return services, addrs
}

// linkAddresses are the IPv4 addresses on ipvsd's dummy link, as the
// kernel lists them.
func linkAddresses(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("/sbin/ip", "-o", "-4", "addr", "show", "dev", link).CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr show dev %s: %v\n%s", link, err, out)
	}
	addrs := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				addrs[strings.SplitN(f[i+1], "/", 2)[0]] = true
			}
		}
	}
	return addrs
}

// setDiff lists what one set has and the other lacks, both ways.
func setDiff(a, b map[string]bool) (onlyA, onlyB []string) {
	for k := range a {
		if !b[k] {
			onlyA = append(onlyA, k)
		}
	}
	for k := range b {
		if !a[k] {
			onlyB = append(onlyB, k)
		}
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	return onlyA, onlyB
}

func first(l []string, n int) []string { return l[:min(n, len(l))] }

func keys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
