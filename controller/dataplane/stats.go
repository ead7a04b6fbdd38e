package dataplane

import (
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/ipvsd/ipvsd/ipvs"
)

// statsGatherer reads our virtual servers' counters from the kernel at
// each scrape (a service dump and one real-server dump per service, as
// `ipvsd list --stats` does) and hands them to the handler as metric
// families. It is a Gatherer rather than a Collector: through a Collector
// each series is a const metric of its own, turned into a protobuf metric
// with label pairs of its own, and at 10,000 virtual servers a scrape
// allocated 40 MB that way; here the label pairs are made once per virtual
// server and shared by its seven series.
type statsGatherer struct {
	cfg    StatsConfig
	labels []*string // label names, sorted as the text exposition wants them
	order  []int     // order[i]: the position of labels[i] in a virtual server's values
}

// statsFamily is one per-virtual-server family: how its value is read.
type statsFamily struct {
	name, help string
	typ        dto.MetricType
	value      func(*ipvs.ServiceCounters) uint64
}

var statsFamilies = []statsFamily{
	{"ipvsd_virtual_server_connections_total", "Connections scheduled by the virtual server.", dto.MetricType_COUNTER,
		func(c *ipvs.ServiceCounters) uint64 { return c.Stats.Conns }},
	{"ipvsd_virtual_server_in_packets_total", "Packets from clients.", dto.MetricType_COUNTER,
		func(c *ipvs.ServiceCounters) uint64 { return c.Stats.InPkts }},
	{"ipvsd_virtual_server_out_packets_total", "Packets to clients.", dto.MetricType_COUNTER,
		func(c *ipvs.ServiceCounters) uint64 { return c.Stats.OutPkts }},
	{"ipvsd_virtual_server_in_bytes_total", "Bytes from clients.", dto.MetricType_COUNTER,
		func(c *ipvs.ServiceCounters) uint64 { return c.Stats.InBytes }},
	{"ipvsd_virtual_server_out_bytes_total", "Bytes to clients.", dto.MetricType_COUNTER,
		func(c *ipvs.ServiceCounters) uint64 { return c.Stats.OutBytes }},
	{"ipvsd_virtual_server_active_connections", "Active connections over all real servers.", dto.MetricType_GAUGE,
		func(c *ipvs.ServiceCounters) uint64 { return c.ActiveConns }},
	{"ipvsd_virtual_server_inactive_connections", "Inactive connections over all real servers.", dto.MetricType_GAUGE,
		func(c *ipvs.ServiceCounters) uint64 { return c.InactiveConns }},
}

func newStatsGatherer(cfg StatsConfig) *statsGatherer {
	names := append(slices.Clone(cfg.Labels), "virtual_server")
	g := &statsGatherer{cfg: cfg, order: make([]int, len(names))}
	for i := range names {
		g.order[i] = i
	}
	slices.SortStableFunc(g.order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	for _, i := range g.order {
		g.labels = append(g.labels, proto.String(names[i]))
	}
	return g
}

// Gather implements prometheus.Gatherer. A failed read still answers: the
// scrape error gauge says so, and no stale or partial series are served.
func (g *statsGatherer) Gather() ([]*dto.MetricFamily, error) {
	counters, err := g.cfg.Kernel.Counters()
	scrapeErr := &dto.MetricFamily{
		Name: proto.String("ipvsd_virtual_server_scrape_error"), Help: proto.String("1 if reading the IPVS table failed."),
		Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(0)}}},
	}
	if err != nil {
		scrapeErr.Metric[0].Gauge.Value = proto.Float64(1)
		return []*dto.MetricFamily{scrapeErr}, nil
	}
	owned := g.cfg.Owned()
	ours := counters[:0]
	var labels [][]*dto.LabelPair
	for _, c := range counters {
		owner, ok := owned[c.Key]
		if !ok {
			continue // foreign: not ours to export
		}
		ours = append(ours, c)
		labels = append(labels, g.labelPairs(owner, c.Key))
	}
	out := []*dto.MetricFamily{scrapeErr}
	for _, f := range statsFamilies {
		out = append(out, f.family(ours, labels))
	}
	return out, nil
}

// labelPairs are one virtual server's labels, in name order.
func (g *statsGatherer) labelPairs(owner string, k ipvs.Key) []*dto.LabelPair {
	values := make([]string, len(g.cfg.Labels), len(g.cfg.Labels)+1)
	if g.cfg.OwnerLabels != nil {
		copy(values, g.cfg.OwnerLabels(owner))
	}
	values = append(values, k.String())
	pairs := make([]dto.LabelPair, len(values))
	out := make([]*dto.LabelPair, len(values))
	for i, j := range g.order {
		pairs[i].Name, pairs[i].Value = g.labels[i], &values[j]
		out[i] = &pairs[i]
	}
	return out
}

// family is f's series, one per virtual server, allocated together.
func (f statsFamily) family(cs []ipvs.ServiceCounters, labels [][]*dto.LabelPair) *dto.MetricFamily {
	metrics := make([]dto.Metric, len(cs))
	values := make([]float64, len(cs))
	ptrs := make([]*dto.Metric, len(cs))
	var counters []dto.Counter
	var gauges []dto.Gauge
	if f.typ == dto.MetricType_COUNTER {
		counters = make([]dto.Counter, len(cs))
	} else {
		gauges = make([]dto.Gauge, len(cs))
	}
	for i := range cs {
		values[i] = float64(f.value(&cs[i]))
		m := &metrics[i]
		m.Label = labels[i]
		if counters != nil {
			counters[i].Value = &values[i]
			m.Counter = &counters[i]
		} else {
			gauges[i].Value = &values[i]
			m.Gauge = &gauges[i]
		}
		ptrs[i] = m
	}
	return &dto.MetricFamily{Name: proto.String(f.name), Help: proto.String(f.help), Type: f.typ.Enum(), Metric: ptrs}
}
