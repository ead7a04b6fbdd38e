// Command benchreport is make bench-report (issue 15 item 5): in the
// kernel lab, `ipvsd standalone` and `ipvsd run` (against the real API
// server of e2e/apiserver, Services x 10 endpoints created before the
// daemon starts) at each size, and optionally the real kube-proxy v1.35.4
// in IPVS mode beside `ipvsd run` in the same VM, measured by
// e2e/guest/benchreport. Mode datapath (item 4) measures connection setup
// through one ClusterIP and directly to its backend while every Service
// is programmed, by `ipvsd run` and the real kube-proxy in nftables mode
// side by side in one VM (each on a node namespace of its own, their
// connections interleaved). It writes the figures, text tables (also
// printed) and PNG plots to -out. One VM per mode and size.
//
//	go run ./e2e/cmd/benchreport -sizes 100,1000 -modes standalone,kube,datapath [-kube-proxy]
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// options are the command line.
type options struct {
	sizes     []int
	modes     []string
	kubeProxy bool
	changes   int
	idle      int
	dpConns   int
	// syncPeriod is both daemons' full resync period in seconds (0:
	// their default).
	syncPeriod int
	// trace has the kube guest print what each slow change overlapped
	// (its figures then carry the cost of the tracing).
	trace bool
	// dpKubeProxy runs kube-proxy nftables beside ipvsd in datapath VMs.
	dpKubeProxy bool
	out         string
	ipvsd       string
	memoryMB    int
	vmTimeout   time.Duration
	// coldTimeout bounds one cold start in the guest (0: by size).
	coldTimeout time.Duration
	// from re-renders a figures.txt of an earlier run without a VM.
	from string
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	o, err := parseFlags(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		return 2
	}
	report := report
	if o.from != "" {
		report = rerender
	}
	if err := report(o); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	sizes := fs.String("sizes", "1000,10000,50000", "numbers of services (x10 backends or endpoints), comma-separated")
	modes := fs.String("modes", "standalone,kube", "modes to run: standalone, kube, datapath")
	var o options
	fs.BoolVar(&o.kubeProxy, "kube-proxy", false, "also run the real kube-proxy v1.35.4 in IPVS mode in each kube VM, as the reference (slow)")
	fs.IntVar(&o.changes, "changes", 200, "single-backend or single-endpoint changes per run")
	fs.IntVar(&o.idle, "idle", 60, "idle window in seconds")
	fs.BoolVar(&o.trace, "trace", false, "kube: log ipvsd's syncs and garbage collections and print those each slow change overlapped (the figures then include the tracing's cost)")
	fs.IntVar(&o.syncPeriod, "sync-period", 0, "kube: both daemons' --ipvs-sync-period in seconds, so the first periodic full resync falls among the changes (0: their default, 30 s)")
	fs.IntVar(&o.dpConns, "dp-conns", 2000, "datapath: measured connections through the ClusterIP, and as many directly, after 100 of each to warm up")
	fs.BoolVar(&o.dpKubeProxy, "dp-kube-proxy", true, "datapath: run the real kube-proxy v1.35.4 nftables beside ipvsd (false: ipvsd alone, for sizes kube-proxy does not sync in time)")
	fs.StringVar(&o.out, "out", "bench-report", "directory for figures.txt, table.txt, plot.png and the consoles")
	fs.StringVar(&o.ipvsd, "ipvsd", "bin/ipvsd", "the static ipvsd binary to measure")
	fs.IntVar(&o.memoryMB, "memory", 4096, "guest memory in MB")
	fs.StringVar(&o.from, "from", "", "render table.txt and plot.png in -out from this figures.txt of an earlier run, without running anything")
	fs.DurationVar(&o.coldTimeout, "cold-timeout", 0, "bound of one cold start in the guest (0: 10 min + 6 s per 100 services)")
	fs.DurationVar(&o.vmTimeout, "vm-timeout", 0, "bound of one VM run (0: 15 min + 12 s per 100 services, more with -kube-proxy)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []string
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 60000 {
			errs = append(errs, fmt.Sprintf("-sizes: %q is not a number of services from 1 to 60,000 (the Service range is a /16)", s))
			continue
		}
		o.sizes = append(o.sizes, n)
	}
	for _, m := range strings.Split(*modes, ",") {
		switch m = strings.TrimSpace(m); m {
		case "standalone", "kube", "datapath":
			o.modes = append(o.modes, m)
		default:
			errs = append(errs, fmt.Sprintf("-modes: unknown mode %q (standalone, kube, datapath)", m))
		}
	}
	if o.syncPeriod < 0 {
		errs = append(errs, "-sync-period must not be negative")
	}
	if o.changes < 1 || o.idle < 1 || o.dpConns < 1 {
		errs = append(errs, "-changes, -idle and -dp-conns must be positive")
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return o, nil
}
