package probe

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Check types.
const (
	TypeTCP   = "tcp"
	TypeHTTP  = "http"
	TypeHTTPS = "https"
)

// Spec says how to check a backend.
type Spec struct {
	Type string
	// Port, when non-zero, is checked instead of the backend's port.
	Port         uint16
	Path, Host   string
	ExpectStatus []int
	Interval     time.Duration
	Timeout      time.Duration
	Rise, Fall   int
}

func (s Spec) equal(o Spec) bool {
	return slices.Equal(s.ExpectStatus, o.ExpectStatus) && s.Type == o.Type && s.Port == o.Port && s.Path == o.Path && s.Host == o.Host &&
		s.Interval == o.Interval && s.Timeout == o.Timeout && s.Rise == o.Rise && s.Fall == o.Fall
}

// ID names a checked backend: the service it belongs to and its address.
// The same address in two services is checked twice, once per service's
// spec, and may be up in one and down in the other.
type ID struct {
	Service string
	Backend netip.AddrPort
}

func (id ID) String() string { return id.Service + "/" + id.Backend.String() }

// Target is one backend to check.
type Target struct {
	ID
	Spec Spec
}

func (t Target) checkAddr() netip.AddrPort {
	if t.Spec.Port != 0 {
		return netip.AddrPortFrom(t.Backend.Addr(), t.Spec.Port)
	}
	return t.Backend
}

// Status is a backend's current health.
type Status struct {
	Up bool
	// Reason is the last failure (when down) or empty.
	Reason string
	// Since is when Up last changed (or the check started).
	Since time.Time
}

// state is the rise/fall hysteresis of one backend. A backend starts up:
// after a daemon restart the kernel still sends it traffic, and taking
// every backend out until it proved itself again would drop the service
// for rise × interval on every upgrade.
type state struct {
	up         bool
	oks, fails int
	rise, fall int
	lastErr    string
	since      time.Time
}

func newState(rise, fall int, now time.Time) *state {
	return &state{up: true, rise: max(rise, 1), fall: max(fall, 1), since: now}
}

// observe records one check result and reports whether the backend
// changed between up and down.
func (s *state) observe(err error, now time.Time) bool {
	if err == nil {
		s.fails = 0
		s.oks++
		if !s.up && s.oks >= s.rise {
			s.up, s.since, s.lastErr = true, now, ""
			return true
		}
		return false
	}
	s.oks = 0
	s.fails++
	s.lastErr = err.Error()
	if s.up && s.fails >= s.fall {
		s.up, s.since = false, now
		return true
	}
	return false
}

func (s *state) status() Status {
	st := Status{Up: s.up, Since: s.since}
	if !s.up {
		st.Reason = s.lastErr
	}
	return st
}

func (s *state) String() string {
	return fmt.Sprintf("up=%t oks=%d fails=%d", s.up, s.oks, s.fails)
}
