package benchreport

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// KubeProxyNFT is the real kube-proxy v1.35.4 in nftables mode, the data
// path's reference (the mode every IPVS user is now offered instead).
const KubeProxyNFT = "kube-proxy-nft"

// KubePaused is `ipvsd run` measured again in the same VM with its
// process stopped (SIGSTOP) and the kernel still programmed: the control
// that tells the daemon's own CPU from the kernel's data path.
const KubePaused = "kube-paused"

// The data path's figure keys: dp_ready_s, and per path (PathCluster,
// PathDirect) dp_PATH_conns, dp_PATH_p50_s, dp_PATH_p99_s and
// dp_PATH_conns_per_s.
const (
	KeyDPReady = "dp_ready_s"       // process start until the kernel holds every Service
	KeyDPCPU   = "dp_proxy_cpu_pct" // the proxy's CPU over the client loop, % of a core
	// KeyDPSideBySide is 1 when the proxies of this size ran at once in
	// one VM, their connections interleaved (0 or absent: one after the
	// other, as before).
	KeyDPSideBySide = "dp_side_by_side"
	dpPrefix        = "dp_"
	PathCluster     = "cluster" // through the measured Service's ClusterIP
	PathDirect      = "direct"  // the same client to the backend pod's address
	dpConns         = "conns"
	dpP50           = "p50_s"
	dpP99           = "p99_s"
	dpPerSecond     = "conns_per_s"
	sizeTarget      = 1.1 // ClusterIP p99 at the largest size over the smallest
	nftTarget       = 1.0 // ClusterIP p99 of ipvsd over kube-proxy nftables
)

// Path is the figures of the connections over one path: how many, the
// p50 and p99 of connect to first byte in seconds, and connections a
// second one at a time (the connections over the time they took, each
// from connect to close).
type Path struct {
	Conns          int
	P50, P99, Rate float64
}

// DataPath is one proxy's data path at one size. Zero values are not
// measured.
type DataPath struct {
	Ready float64
	// ProxyCPU is the proxy process's CPU while the client ran, in
	// percent of one core: work of its own (a resync) slows the client.
	ProxyCPU float64
	// SideBySide: measured at once with the other proxy of its size (see
	// KeyDPSideBySide).
	SideBySide      bool
	Cluster, Direct Path
}

// Summarize is the figures of connections whose connect-to-first-byte
// latencies are firstByte and whose whole lives took total seconds.
func Summarize(firstByte []float64, total float64) Path {
	p := Path{Conns: len(firstByte), P50: Percentile(firstByte, 50), P99: Percentile(firstByte, 99), Rate: math.NaN()}
	if total > 0 {
		p.Rate = float64(len(firstByte)) / total
	}
	return p
}

// DataPathLines are d's figure lines for mode at n services.
func DataPathLines(mode string, n int, d DataPath) []string {
	out := []string{FigureLine(mode, n, KeyDPReady, d.Ready), FigureLine(mode, n, KeyDPCPU, d.ProxyCPU)}
	if d.SideBySide {
		out = append(out, FigureLine(mode, n, KeyDPSideBySide, 1))
	}
	for _, p := range []struct {
		name string
		p    Path
	}{{PathCluster, d.Cluster}, {PathDirect, d.Direct}} {
		k := dpPrefix + p.name + "_"
		out = append(out,
			FigureLine(mode, n, k+dpConns, float64(p.p.Conns)),
			FigureLine(mode, n, k+dpP50, p.p.P50),
			FigureLine(mode, n, k+dpP99, p.p.P99),
			FigureLine(mode, n, k+dpPerSecond, p.p.Rate))
	}
	return out
}

// set stores the data-path figure key; false when key is none of them.
func (d *DataPath) set(key string, v float64) bool {
	switch key {
	case KeyDPReady:
		d.Ready = v
		return true
	case KeyDPCPU:
		d.ProxyCPU = v
		return true
	case KeyDPSideBySide:
		d.SideBySide = v == 1
		return true
	}
	rest, ok := strings.CutPrefix(key, dpPrefix)
	if !ok {
		return false
	}
	name, what, _ := strings.Cut(rest, "_")
	p := map[string]*Path{PathCluster: &d.Cluster, PathDirect: &d.Direct}[name]
	if p == nil {
		return false
	}
	switch what {
	case dpConns:
		p.Conns = int(v)
	case dpP50:
		p.P50 = v
	case dpP99:
		p.P99 = v
	case dpPerSecond:
		p.Rate = v
	default:
		return false
	}
	return true
}

// measured reports whether any data-path figure was printed.
func (d DataPath) measured() bool {
	return d.Ready > 0 || d.Cluster.Conns > 0 || d.Direct.Conns > 0
}

// ClusterOverDirect is the ClusterIP's p99 over the direct path's.
func (d DataPath) ClusterOverDirect() float64 { return ratio(d.Cluster.P99, d.Direct.P99) }

func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// proxyName is how the data-path table names the program behind a mode.
func proxyName(mode string) string {
	return cmp.Or(map[string]string{Kube: "ipvsd", KubePaused: "ipvsd (paused)", KubeProxyNFT: "kube-proxy nft"}[mode], mode)
}

// dataPathRows are the results with data-path figures, by size, ipvsd
// before its reference at each.
func dataPathRows(results []Result) []Result {
	var out []Result
	for _, r := range results {
		if r.DataPath.measured() {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b Result) int {
		return cmp.Or(cmp.Compare(a.Services, b.Services), cmp.Compare(modeOrder(a.Mode), modeOrder(b.Mode)))
	})
	return out
}

// DataPathTable renders the data-path results as a table, one row per
// proxy and size, followed by the ratios the targets are about;
// "" when none were measured.
func DataPathTable(results []Result) string {
	rows := dataPathRows(results)
	if len(rows) == 0 {
		return ""
	}
	var b bytes.Buffer
	fmt.Fprintln(&b, "data path: TCP connect to first byte from a client pod, through one ClusterIP and directly to its backend pod, one connection at a time")
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "proxy\tservices\tready s\tproxy CPU %\tconns\tClusterIP p50 ms\tp99 ms\tconn/s\tdirect p50 ms\tp99 ms\tconn/s\tp99 ClusterIP/direct\t")
	for _, r := range rows {
		d := r.DataPath
		cols := append([]string{proxyName(r.Mode), fmt.Sprint(r.Services), num(opt(d.Ready), 2), num(d.ProxyCPU, 1), fmt.Sprint(max(d.Cluster.Conns, d.Direct.Conns))},
			append(pathCols(d.Cluster), pathCols(d.Direct)...)...)
		fmt.Fprintln(w, strings.Join(append(cols, num(d.ClusterOverDirect(), 2)), "\t")+"\t")
	}
	w.Flush()
	b.WriteString(dataPathRatios(rows))
	return b.String()
}

// pathCols are p50 and p99 in milliseconds and connections a second, or
// "-" for a path not measured.
func pathCols(p Path) []string {
	if p.Conns == 0 {
		return []string{"-", "-", "-"}
	}
	return []string{num(1000*p.P50, 3), num(1000*p.P99, 3), num(p.Rate, 0)}
}

// dataPathRatios are the ratios of the targets: the ClusterIP's p99 at
// each larger size over the smallest, for each proxy, also over the
// direct path measured beside it (the sizes run in VMs one after the
// other on a shared, emulated CPU whose load changes between them, and
// the interleaved direct connections saw the same load); and at each size
// ipvsd's figures over kube-proxy nftables', paired: both proxies ran at
// once in one VM, their connections interleaved. The direct path's ratio
// is the check of the pairing: neither proxy translates it, so it is near
// 1 when both nodes saw the same load and the same per-packet work.
func dataPathRatios(rows []Result) string {
	by := map[string]map[int]DataPath{}
	var sizes []int
	for _, r := range rows {
		if by[r.Mode] == nil {
			by[r.Mode] = map[int]DataPath{}
		}
		by[r.Mode][r.Services] = r.DataPath
		if !slices.Contains(sizes, r.Services) {
			sizes = append(sizes, r.Services)
		}
	}
	var lines []string
	for _, n := range sizes[1:] {
		var raw, norm []string
		for _, mode := range []string{Kube, KubePaused, KubeProxyNFT} {
			big, ok1 := by[mode][n]
			small, ok2 := by[mode][sizes[0]]
			if ok1 && ok2 {
				raw = append(raw, proxyName(mode)+" "+num(ratio(big.Cluster.P99, small.Cluster.P99), 2))
				norm = append(norm, proxyName(mode)+" "+num(ratio(big.ClusterOverDirect(), small.ClusterOverDirect()), 2))
			}
		}
		if len(raw) > 0 {
			lines = append(lines, fmt.Sprintf("ClusterIP p99 at %d over %d Services: %s (target: ipvsd <= %.1f); each over its VM's direct p99: %s",
				n, sizes[0], strings.Join(raw, ", "), sizeTarget, strings.Join(norm, ", ")))
		}
	}
	for _, n := range sizes {
		i, ok1 := by[Kube][n]
		if p, ok := by[KubePaused][n]; ok1 && ok {
			lines = append(lines, fmt.Sprintf("ipvsd running over paused at %d Services, one after the other in one VM: ClusterIP p50 %s, p99 %s; direct p50 %s, p99 %s",
				n, num(ratio(i.Cluster.P50, p.Cluster.P50), 2), num(ratio(i.Cluster.P99, p.Cluster.P99), 2),
				num(ratio(i.Direct.P50, p.Direct.P50), 2), num(ratio(i.Direct.P99, p.Direct.P99), 2)))
		}
		k, ok2 := by[KubeProxyNFT][n]
		if ok1 && ok2 {
			lines = append(lines, fmt.Sprintf("ipvsd over kube-proxy nft at %d Services, %s: ClusterIP p50 %s, p99 %s (target <= %.1f), conn/s %s; direct p50 %s, p99 %s",
				n, pairing(i, k), num(ratio(i.Cluster.P50, k.Cluster.P50), 2), num(ratio(i.Cluster.P99, k.Cluster.P99), 2), nftTarget,
				num(ratio(i.Cluster.Rate, k.Cluster.Rate), 2), num(ratio(i.Direct.P50, k.Direct.P50), 2), num(ratio(i.Direct.P99, k.Direct.P99), 2)))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "ratios:\n  " + strings.Join(lines, "\n  ") + "\n"
}

// pairing says how two proxies' figures at one size were measured: at
// once in one VM, each on a node namespace of its own with their
// connections interleaved, or one after the other.
func pairing(a, b DataPath) string {
	if a.SideBySide && b.SideBySide {
		return "side by side in one VM"
	}
	return "one after the other"
}
