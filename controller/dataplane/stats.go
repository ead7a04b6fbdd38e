package dataplane

import (
	"github.com/prometheus/client_golang/prometheus"
)

// statsCollector reads our virtual servers' counters from the kernel at
// each scrape: one dump, so a scrape costs what `ipvsadm -Ln --stats` does.
type statsCollector struct {
	cfg                                       StatsConfig
	conns, inPkts, outPkts, inBytes, outBytes *prometheus.Desc
	active, inactive, scrapeErr               *prometheus.Desc
}

func newStatsCollector(cfg StatsConfig) *statsCollector {
	l := append(append([]string(nil), cfg.Labels...), "virtual_server")
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, l, nil) }
	return &statsCollector{cfg: cfg,
		conns:     d("ipvsd_virtual_server_connections_total", "Connections scheduled by the virtual server."),
		inPkts:    d("ipvsd_virtual_server_in_packets_total", "Packets from clients."),
		outPkts:   d("ipvsd_virtual_server_out_packets_total", "Packets to clients."),
		inBytes:   d("ipvsd_virtual_server_in_bytes_total", "Bytes from clients."),
		outBytes:  d("ipvsd_virtual_server_out_bytes_total", "Bytes to clients."),
		active:    d("ipvsd_virtual_server_active_connections", "Active connections over all real servers."),
		inactive:  d("ipvsd_virtual_server_inactive_connections", "Inactive connections over all real servers."),
		scrapeErr: prometheus.NewDesc("ipvsd_virtual_server_scrape_error", "1 if reading the IPVS table failed.", nil, nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.inPkts, c.outPkts, c.inBytes, c.outBytes, c.active, c.inactive, c.scrapeErr} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	dump, err := c.cfg.Kernel.Dump()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.scrapeErr, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeErr, prometheus.GaugeValue, 0)
	owned := c.cfg.Owned()
	for _, s := range dump {
		owner, ok := owned[s.Key]
		if !ok {
			continue // foreign: not ours to export
		}
		l := append(c.labels(owner), s.Key.String())
		st := s.Stats
		for _, v := range []struct {
			d *prometheus.Desc
			v uint64
		}{{c.conns, st.Conns}, {c.inPkts, st.InPkts}, {c.outPkts, st.OutPkts}, {c.inBytes, st.InBytes}, {c.outBytes, st.OutBytes}} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.v), l...)
		}
		var active, inactive uint64
		for _, d := range s.Destinations {
			active += uint64(d.ActiveConns)
			inactive += uint64(d.InactiveConns)
		}
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(active), l...)
		ch <- prometheus.MustNewConstMetric(c.inactive, prometheus.GaugeValue, float64(inactive), l...)
	}
}

// labels are the owner's label values, exactly as many as the names.
func (c *statsCollector) labels(owner string) []string {
	var vs []string
	if c.cfg.OwnerLabels != nil {
		vs = c.cfg.OwnerLabels(owner)
	}
	out := make([]string, len(c.cfg.Labels), len(c.cfg.Labels)+1)
	copy(out, vs)
	return out
}
