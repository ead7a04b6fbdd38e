package config

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Masquerade modes for NAT services.
const (
	// MasqueradeAll source-NATs every connection to a NAT service to the
	// director's address, so real servers need no route back through the
	// director (they see the director as the client).
	MasqueradeAll = "all"
	// MasqueradeLocal source-NATs only what cannot work otherwise: the
	// director's own connections (their source is often the VIP) and a
	// real server connecting to its own service. Remote clients keep their
	// address, and the real servers must route replies through the
	// director, the classic LVS-NAT set-up.
	MasqueradeLocal = "local"
)

// Health check failure actions.
const (
	// OnFailureQuiesce sets a failed backend's weight to 0: it gets no new
	// connections, and established ones carry on (they may still work).
	OnFailureQuiesce = "quiesce"
	// OnFailureRemove takes a failed backend out of the service; it is
	// drained like any removed backend.
	OnFailureRemove = "remove"
)

// Defaults not spelled out elsewhere.
const (
	DefaultInterface     = "ipvs0"
	DefaultScheduler     = "wrr"
	DefaultProtocol      = "tcp"
	DefaultForwarding    = "nat"
	DefaultWeight        = 1
	DefaultCheckInterval = 2 * time.Second
	DefaultCheckTimeout  = time.Second
	DefaultRise          = 2
	DefaultFall          = 3
	DefaultHTTPPath      = "/"
)

// Config is the whole file.
type Config struct {
	// Interface is the dummy link VIPs are bound to.
	Interface string `json:"interface,omitempty"`
	// Masquerade is MasqueradeAll or MasqueradeLocal; it applies to NAT
	// services only.
	Masquerade string    `json:"masquerade,omitempty"`
	Services   []Service `json:"services"`
	// BGP, when set, announces the VIPs of healthy services (bgp.go).
	BGP *BGP `json:"bgp,omitempty"`
	// Sync runs the kernel's connection sync daemons (sync.go).
	Sync *Sync `json:"sync,omitempty"`
}

// Service is one virtual server.
type Service struct {
	// Name is unique and labels the virtual server in logs, metrics and
	// the ownership record.
	Name string `json:"name"`
	// VIP, Port and Protocol name an address service; FWMark (with
	// Family) names a firewall-mark service instead.
	VIP      string `json:"vip,omitempty"`
	Port     int    `json:"port,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	FWMark   int64  `json:"fwmark,omitempty"`
	// Family of a firewall-mark service: ipv4 (default) or ipv6.
	Family         string   `json:"family,omitempty"`
	Scheduler      string   `json:"scheduler,omitempty"`
	SchedulerFlags []string `json:"schedulerFlags,omitempty"`
	// Persistence is a duration (300s); clients stick to a backend for
	// that long after their last connection.
	Persistence string `json:"persistence,omitempty"`
	// PersistenceNetmask is a prefix length: clients in one such network
	// share a backend.
	PersistenceNetmask int `json:"persistenceNetmask,omitempty"`
	// Forwarding is the backends' default: nat, dr or tun.
	Forwarding string `json:"forwarding,omitempty"`
	// Drain bounds how long a removed backend keeps its connections; "0s"
	// removes at once.
	Drain       string       `json:"drain,omitempty"`
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// Quorum is the least number of healthy backends the service runs
	// on; below it the service keeps the last set of backends that met
	// it, rather than piling every client onto the few survivors.
	Quorum int `json:"quorum,omitempty"`
	// SorryServer takes the traffic while no backend is healthy.
	SorryServer *Backend  `json:"sorryServer,omitempty"`
	Backends    []Backend `json:"backends"`

	parsed parsedService
}

// Backend is one real server.
type Backend struct {
	Address string `json:"address"`
	Port    int    `json:"port,omitempty"`
	// Weight defaults to 1; 0 keeps the backend configured but unused.
	Weight *int `json:"weight,omitempty"`
	// Forwarding overrides the service's for this backend.
	Forwarding string `json:"forwarding,omitempty"`
	// UpperThreshold and LowerThreshold bound the connections the backend
	// takes (0: no limit).
	UpperThreshold int64 `json:"upperThreshold,omitempty"`
	LowerThreshold int64 `json:"lowerThreshold,omitempty"`

	parsed parsedBackend
}

// HealthCheck says how a service's backends are checked.
type HealthCheck struct {
	// Type is tcp (connect), http or https (GET, certificates not
	// verified: the check asks whether the backend answers, not who it is).
	Type string `json:"type"`
	// Port overrides the backend's port for the check.
	Port int `json:"port,omitempty"`
	// Path and Host are the HTTP request's; ExpectStatus the acceptable
	// status codes (default 200).
	Path         string `json:"path,omitempty"`
	Host         string `json:"host,omitempty"`
	ExpectStatus []int  `json:"expectStatus,omitempty"`
	Interval     string `json:"interval,omitempty"`
	Timeout      string `json:"timeout,omitempty"`
	// Rise successes in a row bring a failed backend back; Fall failures in
	// a row take a healthy one out.
	Rise      int    `json:"rise,omitempty"`
	Fall      int    `json:"fall,omitempty"`
	OnFailure string `json:"onFailure,omitempty"`

	parsed parsedCheck
}

// parsedService holds what Validate parsed; valid only after a nil Validate.
type parsedService struct {
	key        ipvs.Key
	flags      ipvs.Flags
	timeout    uint32
	forwarding ipvs.Forwarding
	drain      time.Duration
	// portRejected: decoding rejected the port (Validate stays quiet
	// about backends that would have inherited it).
	portRejected bool
}

type parsedBackend struct {
	addr       netip.Addr
	forwarding ipvs.Forwarding
}

type parsedCheck struct {
	interval, timeout time.Duration
}

// Parse decodes one YAML document strictly (see decode), applies Defaults
// and validates. It reports every problem at once: unknown, duplicate and
// mistyped fields as well as invalid values.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes (%d MiB), the limit", MaxFileSize, MaxFileSize>>20)
	}
	var c Config
	var p problems
	if err := decode(data, &c, &p); err != nil {
		return nil, err
	}
	c.Defaults()
	c.validate(&p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Load reads (at most MaxFileSize bytes) and parses the file at path.
func Load(path string) (*Config, []byte, error) {
	return load(path, Parse)
}

func load(path string, parse func([]byte) (*Config, error)) (*Config, []byte, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	c, err := parse(data)
	if err != nil {
		return nil, data, fmt.Errorf("config %s: %w", path, err)
	}
	return c, data, nil
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Interface == "" {
		c.Interface = DefaultInterface
	}
	if c.Masquerade == "" {
		c.Masquerade = MasqueradeAll
	}
	for i := range c.Services {
		c.Services[i].defaults()
	}
	if c.BGP != nil {
		c.BGP.defaults()
	}
}

func (s *Service) defaults() {
	if s.FWMark == 0 && s.Protocol == "" {
		s.Protocol = DefaultProtocol
	}
	if s.Scheduler == "" {
		s.Scheduler = DefaultScheduler
	}
	if s.Forwarding == "" {
		s.Forwarding = DefaultForwarding
	}
	for i := range s.Backends {
		s.Backends[i].defaults(s.Port)
	}
	if s.SorryServer != nil {
		s.SorryServer.defaults(s.Port)
	}
	if hc := s.HealthCheck; hc != nil {
		if hc.Interval == "" {
			hc.Interval = DefaultCheckInterval.String()
		}
		if hc.Timeout == "" {
			hc.Timeout = DefaultCheckTimeout.String()
		}
		if hc.Rise == 0 {
			hc.Rise = DefaultRise
		}
		if hc.Fall == 0 {
			hc.Fall = DefaultFall
		}
		if hc.OnFailure == "" {
			hc.OnFailure = OnFailureQuiesce
		}
		if hc.Type == "http" || hc.Type == "https" {
			if hc.Path == "" {
				hc.Path = DefaultHTTPPath
			}
			if len(hc.ExpectStatus) == 0 {
				hc.ExpectStatus = []int{200}
			}
		}
	}
}

// defaults gives a backend the service's port (a backend listening where
// the VIP does is the common case) and the default weight.
func (b *Backend) defaults(port int) {
	if b.Port == 0 {
		b.Port = port
	}
	if b.Weight == nil {
		w := DefaultWeight
		b.Weight = &w
	}
}
