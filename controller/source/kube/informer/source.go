package informer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/runner"
	"github.com/ipvsd/ipvsd/controller/source/kube"
	"github.com/ipvsd/ipvsd/ipvs"
)

// Config are the source's settings.
type Config struct {
	// NodeName is this node's Node name (--hostname-override or the host
	// name).
	NodeName string
	// NodePortCIDRs select the host addresses that accept node ports
	// (--nodeport-addresses); NodePortPrimary adds the Node's primary
	// addresses, and is implied when there are no CIDRs.
	NodePortCIDRs   []netip.Prefix
	NodePortPrimary bool
	// LocalByNodePodCIDRs tells pod traffic by this Node's podCIDRs
	// instead of Firewall.ClusterCIDRs (kube-proxy's detectLocalMode
	// NodeCIDR).
	LocalByNodePodCIDRs bool
	// BindAddress, when specified, is this node's primary address of its
	// family whatever the Node says (kube-proxy's bindAddress).
	BindAddress netip.Addr
	// Firewall holds the daemon-wide firewall options (cluster CIDRs,
	// masquerade-all, mark bits); services are added to it.
	Firewall firewall.Desired
	// Translate holds the default scheduler and drain timeout.
	Translate kube.Options
	// MarkMin and MarkMax bound the firewall marks of Local external
	// traffic policies (0: kube.DefaultMarkMin/Max).
	MarkMin, MarkMax uint32
}

// HealthChecks serves the health-check node ports.
type HealthChecks interface {
	Update(map[uint16]kube.HealthCheckTarget) error
}

// Deps are the source's collaborators; only Client and Trigger are
// required.
type Deps struct {
	Client Client
	// Trigger asks the programmer for a sync (dataplane.Programmer.Trigger).
	Trigger  func()
	Recorder record.EventRecorder
	// HostAddresses lists the host's addresses (VIP link excluded), for
	// NodePortCIDRs; nil with NodePortCIDRs set is an error.
	HostAddresses func() ([]netip.Addr, error)
	Health        HealthChecks
	// Metrics records programming latency and the programmed counts; nil
	// keeps none.
	Metrics *Metrics
	Clock   runner.Clock
	Log     *zap.Logger
}

// Source watches the API server and hands what changed to the programmer.
// It implements dataplane.Source.
type Source struct {
	cfg   Config
	deps  Deps
	log   *zap.Logger
	inf   *watches
	state *kube.State
	marks *kube.Marks

	mu    sync.Mutex
	dirty map[string]bool // services ("ns/name") an event touched
	all   bool            // every service must be translated again
	// nodeDirty: the Node had an event (or its last read failed) since
	// it was last read.
	nodeDirty bool
	// pending are the services with a Service or an EndpointSlice change
	// not yet taken by a sync, for kube-proxy's changes_pending metrics.
	pendingServices, pendingEndpoints map[string]bool

	// Owned by the sync loop.
	node kube.Node
	// nodeAddrs are the node's own addresses (Node status and host), for
	// the firewall's source-range decisions on the node's own traffic.
	nodeAddrs []netip.Addr
	// podCIDRs are the Node's spec.podCIDRs.
	podCIDRs []netip.Prefix
	problems map[string][]kube.Problem // reported, by service
	// conflicts are the virtual servers someone else holds, reported
	// once each (on the service that wants them).
	conflicts map[ipvs.Key]bool
	// trigger are the EndpointSlice trigger times of the last change,
	// for the programming latency once it is programmed.
	trigger []trigger
	// families are those the node serves (its primary addresses'), the
	// ip_family label of kube-proxy's series.
	families []ipvs.Family
	// syncStart and syncFull are the current sync's, from Changes to
	// Programmed, for kube-proxy's sync duration.
	syncStart time.Time
	syncFull  bool
	// healthFailed: the last health-check Update failed, so the next
	// sync retries it even if no port changed.
	healthFailed bool
}

// trigger is one service's EndpointSlice change time and its families.
type trigger struct {
	at       time.Time
	families []ipvs.Family
}

// New validates cfg and builds the informers, without starting them.
func New(cfg Config, deps Deps) (*Source, error) {
	var errs []error
	if cfg.NodeName == "" {
		errs = append(errs, errors.New("no node name"))
	}
	if deps.Client == nil || deps.Trigger == nil {
		errs = append(errs, errors.New("a client and a trigger are required"))
	}
	if len(cfg.NodePortCIDRs) > 0 && deps.HostAddresses == nil {
		errs = append(errs, errors.New("node-port CIDRs need the host's addresses"))
	}
	if cfg.Translate.Scheduler == "" {
		errs = append(errs, errors.New("no default scheduler"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kubernetes source: %w", err)
	}
	return newSource(cfg, deps)
}

func newSource(cfg Config, deps Deps) (*Source, error) {
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	if deps.Clock == nil {
		deps.Clock = runner.RealClock{}
	}
	s := &Source{cfg: cfg, deps: deps, log: deps.Log, state: kube.NewState(), marks: kube.NewMarks(cfg.MarkMin, cfg.MarkMax),
		dirty: map[string]bool{}, all: true, problems: map[string][]kube.Problem{}, conflicts: map[ipvs.Key]bool{},
		pendingServices: map[string]bool{}, pendingEndpoints: map[string]bool{}, families: []ipvs.Family{ipvs.IPv4}}
	s.inf = newInformers(deps.Client, cfg.NodeName, s.touch, s.nodeTouched, deps.Log)
	return s, nil
}

// touch marks one service for translation and asks for a sync.
func (s *Source) touch(key string, endpoints bool) {
	if key == "" {
		return
	}
	s.mu.Lock()
	s.dirty[key] = true
	if endpoints {
		s.pendingEndpoints[key] = true
	} else {
		s.pendingServices[key] = true
	}
	nSvc, nEps, families := len(s.pendingServices), len(s.pendingEndpoints), s.families
	s.mu.Unlock()
	if m := s.deps.Metrics; m != nil {
		m.kp.queued(s.deps.Clock.Now(), endpoints, nSvc, nEps, families)
	}
	s.deps.Trigger()
}

// nodeTouched asks for a sync that reads the Node again after an event of
// it. It marks no service: the sync translates everything only if what
// translation reads of the Node (zone, node-port addresses) changed, since
// a kubelet updates its Node every few seconds and re-translating every
// Service each time would make those updates O(Services).
func (s *Source) nodeTouched() {
	s.mu.Lock()
	s.nodeDirty = true
	s.mu.Unlock()
	s.deps.Trigger()
}

// Start runs the informers and waits until their caches hold a full
// list. If the API server goes away later, the informers retry and the
// last programmed state stays; when it returns, they relist and only the
// differences are handed over.
func (s *Source) Start(ctx context.Context) error {
	if err := s.inf.start(ctx); err != nil {
		return err
	}
	s.log.Info("informers synced; programming", zap.String("node", s.cfg.NodeName))
	return nil
}

// Changes translates the services touched since the last call (all of
// them at the first call, or when what translation reads of the node
// changed) into an incremental Update, with the firewall parts of the
// services that changed (whole at a full resync, which the firewall
// compares with the kernel).
//
// A periodic full resync (resync) translates nothing afresh: translation
// depends only on the informers' caches and the node, whose every change
// marks what it touches, so translating 10,000 unchanged Services again
// would give the same state at a cost that made an idle daemon busy. The
// repair of the kernel is the reconciler's, from the state it holds.
func (s *Source) Changes(_ context.Context, resync bool) (dataplane.Change, error) {
	s.mu.Lock()
	dirty, full, nodeDirty := s.dirty, s.all, s.nodeDirty
	s.dirty, s.all, s.nodeDirty = map[string]bool{}, false, false
	clear(s.pendingServices)
	clear(s.pendingEndpoints)
	s.mu.Unlock()
	s.syncStart = s.deps.Clock.Now()
	if m := s.deps.Metrics; m != nil {
		m.kp.taken()
	}

	var errs []error
	// The Node and the host's addresses are read at a full resync and
	// after an event of the Node, not at every change: listing the host's
	// addresses dumps every VIP on our link, which made each
	// EndpointSlice change O(Services). A host address that changes
	// without a Node event is seen within a full-resync period, as it was
	// when no Service changed.
	if full || resync || nodeDirty {
		s.syncNode(&full, &errs)
	}
	s.syncFull = full || resync
	if full {
		for _, n := range s.inf.serviceKeys() {
			dirty[n] = true
		}
		for _, n := range s.state.Names() {
			dirty[n] = true
		}
	}
	ch := dataplane.Change{Resynced: full}
	s.trigger = s.trigger[:0]
	for _, name := range sortedKeys(dirty) {
		if err := s.translateInto(name, &ch.Update); err != nil {
			errs = append(errs, err)
		}
	}
	s.state.Finish(&ch.Update)
	ch.Firewall = s.state.Firewall(s.firewallBase(), full || resync)
	return ch, errors.Join(errs...)
}

// syncNode reads the Node; a change of what translation reads of it makes
// the sync full. A failed read is tried again at the next sync.
func (s *Source) syncNode(full *bool, errs *[]error) {
	node, err := s.readNode()
	if err != nil {
		*errs = append(*errs, err)
		s.mu.Lock()
		s.nodeDirty = true
		s.mu.Unlock()
		return
	}
	if !nodeEqual(node, s.node) {
		s.node, *full = node, true
		s.log.Info("node changed", zap.String("zone", node.Zone), zap.Stringers("nodePortAddresses", node.NodePortAddresses))
	}
}

// translateInto translates one service and adds its change to u. A
// service that cannot be read is marked for the next sync, which the
// returned error makes a retry.
func (s *Source) translateInto(name string, u *desired.Update) error {
	st, err := s.translate(name)
	if err != nil {
		s.mu.Lock()
		s.dirty[name] = true
		s.mu.Unlock()
		return err
	}
	s.state.Set(name, st, u)
	if st == nil {
		s.report(name, nil)
		return nil
	}
	s.report(name, st.Problems)
	if !st.TriggerTime.IsZero() {
		s.trigger = append(s.trigger, trigger{at: st.TriggerTime, families: vsFamilies(st.VirtualServers)})
	}
	return nil
}

// Programmed updates the health-check node ports and, when everything was
// programmed, records how long the EndpointSlice changes took to reach
// the kernel.
func (s *Source) Programmed(err error) error {
	var hcErr error
	// Only when a port or its answer changed: a sync costs what changed.
	if hc, changed := s.state.HealthChecks(); s.deps.Health != nil && (changed || s.healthFailed) {
		herr := s.deps.Health.Update(hc)
		if s.healthFailed = herr != nil; herr != nil {
			hcErr = fmt.Errorf("health-check node ports: %w", herr)
		}
	}
	if m := s.deps.Metrics; m != nil {
		now := s.deps.Clock.Now()
		ok := err == nil && hcErr == nil
		if ok {
			for _, t := range s.trigger {
				m.ObserveProgramming(now.Sub(t.at))
				for _, f := range t.families {
					m.kp.programmed(now.Sub(t.at), f)
				}
			}
		}
		m.SetProgrammed(s.state.Counts())
		m.kp.synced(now, now.Sub(s.syncStart), s.syncFull, ok, s.families)
		m.kp.setNoLocal(s.state.NoLocalCounts(), s.families)
	}
	return hcErr
}

// translate computes the state of one service from the caches; nil means
// it no longer exists.
func (s *Source) translate(name string) (*kube.ServiceState, error) {
	svc, err := s.inf.service(name)
	if err != nil || svc == nil {
		s.marks.Session(name).Done()
		return nil, err
	}
	eps, err := s.inf.serviceSlices(name)
	if err != nil {
		return nil, err
	}
	ms := s.marks.Session(name)
	st := kube.Translate(svc, eps, &s.node, &s.cfg.Translate, ms)
	ms.Done()
	return &st, nil
}

// report emits a Warning Event for each problem of a service that was
// not already reported for it, so a problem is reported once, not on
// every sync.
func (s *Source) report(name string, ps []kube.Problem) {
	old := s.problems[name]
	for _, p := range ps {
		if slices.Contains(old, p) {
			continue
		}
		s.log.Warn("not programmed", zap.String("service", name), zap.String("object", p.Object.Kind+" "+p.Object.Namespace+"/"+p.Object.Name),
			zap.String("reason", p.Reason), zap.String("message", p.Message))
		if s.deps.Recorder != nil {
			ref := p.Object
			s.deps.Recorder.Event(&ref, corev1.EventTypeWarning, p.Reason, p.Message)
		}
	}
	if len(ps) == 0 {
		delete(s.problems, name)
		return
	}
	s.problems[name] = ps
}

// readNode builds the translation's view of this node from the cache and,
// with node-port CIDRs, the host's addresses.
func (s *Source) readNode() (kube.Node, error) {
	n, err := s.inf.node()
	if err != nil {
		return s.node, err
	}
	node := kube.Node{Name: s.cfg.NodeName}
	if n != nil {
		node.Zone = n.Labels[corev1.LabelTopologyZone]
	}
	var primary []netip.Addr
	s.podCIDRs = nil
	if n != nil {
		primary = primaryAddresses(n)
		s.podCIDRs = podCIDRs(n)
	}
	primary = withBindAddress(primary, s.cfg.BindAddress)
	s.setFamilies(primary)
	addrs := slices.Clone(primary)
	if s.deps.HostAddresses != nil {
		host, err := s.deps.HostAddresses()
		if err != nil {
			return s.node, fmt.Errorf("listing host addresses: %w", err)
		}
		addrs = append(addrs, host...)
	}
	s.nodeAddrs = firewall.SortedAddrs(addrs)
	if s.cfg.NodePortPrimary || len(s.cfg.NodePortCIDRs) == 0 {
		node.NodePortAddresses = primary
	}
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsLinkLocalUnicast() && !slices.Contains(node.NodePortAddresses, a) && slices.ContainsFunc(s.cfg.NodePortCIDRs, func(p netip.Prefix) bool { return p.Contains(a) }) {
			node.NodePortAddresses = append(node.NodePortAddresses, a)
		}
	}
	node.NodePortAddresses = firewall.SortedAddrs(node.NodePortAddresses)
	return node, nil
}

// firewallBase is the configured firewall options with the node-port
// CIDRs resolved: the configured ones, or the node's primary addresses.
func (s *Source) firewallBase() firewall.Desired {
	d := s.cfg.Firewall
	d.NodePortCIDRs = slices.Clone(s.cfg.NodePortCIDRs)
	d.NodeAddresses = s.nodeAddrs
	if s.cfg.LocalByNodePodCIDRs {
		d.ClusterCIDRs = s.podCIDRs
	}
	if s.cfg.NodePortPrimary || len(d.NodePortCIDRs) == 0 {
		// The primary addresses, where no CIDR covers them already.
		for _, a := range s.node.NodePortAddresses {
			if !slices.ContainsFunc(s.cfg.NodePortCIDRs, func(p netip.Prefix) bool { return p.Contains(a) }) {
				d.NodePortCIDRs = append(d.NodePortCIDRs, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	return d
}

func nodeEqual(a, b kube.Node) bool {
	return a.Name == b.Name && a.Zone == b.Zone && slices.Equal(a.NodePortAddresses, b.NodePortAddresses)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// setFamilies sets the families the node serves: those of its primary
// addresses, IPv4 when it has none.
func (s *Source) setFamilies(primary []netip.Addr) {
	fs := []ipvs.Family{}
	for _, a := range primary {
		if f := ipvs.FamilyOf(a); !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		fs = []ipvs.Family{ipvs.IPv4}
	}
	s.mu.Lock()
	s.families = fs
	s.mu.Unlock()
}

// vsFamilies are the families of a service's virtual servers.
func vsFamilies(vss []desired.VirtualServer) []ipvs.Family {
	var out []ipvs.Family
	for _, vs := range vss {
		if !slices.Contains(out, vs.Key.Family) {
			out = append(out, vs.Key.Family)
		}
	}
	return out
}
