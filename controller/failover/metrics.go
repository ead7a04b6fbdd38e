package failover

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Collector exports the running sync daemons, read from the kernel at
// each scrape: whether a director is really syncing is the kernel's
// answer, not what ipvsd last asked for (a start that failed, a daemon
// stopped by hand).
type Collector struct {
	k       ipvs.SyncDaemons
	running *prometheus.Desc
	failed  *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector reads k.
func NewCollector(k ipvs.SyncDaemons) *Collector {
	return &Collector{
		k: k,
		running: prometheus.NewDesc("ipvsd_sync_daemon_running",
			"1 for each IPVS connection sync daemon running in the kernel, by role, interface and sync ID (whoever started it).",
			[]string{"role", "interface", "sync_id"}, nil),
		failed: prometheus.NewDesc("ipvsd_sync_daemon_scrape_error", "1 if listing the sync daemons failed.", nil, nil),
	}
}

func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.running
	ch <- c.failed
}

func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ds, err := c.k.SyncDaemons()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, 0)
	for _, d := range ds {
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, 1, d.State.String(), d.Interface, strconv.Itoa(int(d.SyncID)))
	}
}
