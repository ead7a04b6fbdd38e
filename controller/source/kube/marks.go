package kube

import (
	"hash/fnv"
	"sync"
)

// Default firewall-mark range of externalTrafficPolicy Local virtual
// servers. IPVS compares the whole packet mark, so marks must stay clear
// of bits other rules set on the same packets: the firewall's masquerade
// and drop bits (14 and 15 by default, as kube-proxy), and Calico's
// 16-31. Values below 0x1000 are left to hand-written policy routing.
const (
	DefaultMarkMin uint32 = 0x1000
	DefaultMarkMax uint32 = 0x3fff
)

// Marks allocates firewall marks to keys. A key's preferred mark is a hash
// of it, so a restarted ipvsd usually finds the marks (and the
// firewall-mark virtual servers) it had and rewrites nothing; a collision
// takes the next free mark. Marks are tracked per service: Session records
// what one translation used and Done frees the rest.
type Marks struct {
	mu       sync.Mutex
	min, max uint32
	byKey    map[string]uint32
	used     map[uint32]bool
	// bySvc lists the keys each service holds.
	bySvc map[string]map[string]bool
}

// NewMarks allocates from [min, max]; zero values mean the defaults.
func NewMarks(min, max uint32) *Marks {
	if min == 0 {
		min = DefaultMarkMin
	}
	if max == 0 || max < min {
		max = DefaultMarkMax
	}
	return &Marks{min: min, max: max, byKey: map[string]uint32{}, used: map[uint32]bool{}, bySvc: map[string]map[string]bool{}}
}

// MarkSession is the Marker of one translation of one service.
type MarkSession struct {
	m    *Marks
	svc  string
	keys map[string]bool
}

// Session starts a translation of service svc ("ns/name").
func (m *Marks) Session(svc string) *MarkSession {
	return &MarkSession{m: m, svc: svc, keys: map[string]bool{}}
}

// Mark returns key's mark, allocating it if needed; 0 if none is free.
func (s *MarkSession) Mark(key string) uint32 {
	s.keys[key] = true
	return s.m.mark(key)
}

// Done frees the marks the service held and this translation did not use.
func (s *MarkSession) Done() {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.bySvc[s.svc] {
		if !s.keys[k] {
			delete(m.used, m.byKey[k])
			delete(m.byKey, k)
		}
	}
	if len(s.keys) == 0 {
		delete(m.bySvc, s.svc)
		return
	}
	m.bySvc[s.svc] = s.keys
}

func (m *Marks) mark(key string) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.byKey[key]; ok {
		return v
	}
	n := m.max - m.min + 1
	h := fnv.New32a()
	h.Write([]byte(key))
	start := h.Sum32() % n
	for i := uint32(0); i < n; i++ {
		v := m.min + (start+i)%n
		if !m.used[v] {
			m.used[v] = true
			m.byKey[key] = v
			return v
		}
	}
	return 0
}
