package ipvstest

import (
	"slices"
	"sync"
	"syscall"

	"github.com/ipvsd/ipvsd/ipvs"
)

// SyncDaemons is a fake ipvs.SyncDaemons that behaves as the kernel's
// start_sync_thread and stop_sync_thread (net/netfilter/ipvs/ip_vs_sync.c)
// in one network namespace: it knows the links there, fills in the
// kernel's defaults, and fails with the kernel's errno in the kernel's
// order (a missing interface before a role already running).
type SyncDaemons struct {
	mu      sync.Mutex
	links   map[string]int // name to MTU
	running map[ipvs.SyncState]ipvs.SyncDaemon
	fail    error
}

var _ ipvs.SyncDaemons = (*SyncDaemons)(nil)

// NewSyncDaemons returns a namespace with no daemon and the given links,
// each with the usual MTU of 1500.
func NewSyncDaemons(links ...string) *SyncDaemons {
	f := &SyncDaemons{links: map[string]int{}, running: map[ipvs.SyncState]ipvs.SyncDaemon{}}
	for _, l := range links {
		f.links[l] = 1500
	}
	return f
}

// SetLink adds a link with that MTU, or changes its MTU.
func (f *SyncDaemons) SetLink(name string, mtu int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[name] = mtu
}

// FailNext makes the next call return err.
func (f *SyncDaemons) FailNext(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *SyncDaemons) takeFailure() error {
	err := f.fail
	f.fail = nil
	return err
}

// SyncDaemons lists the running daemons, master first.
func (f *SyncDaemons) SyncDaemons() ([]ipvs.SyncDaemon, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFailure(); err != nil {
		return nil, err
	}
	out := []ipvs.SyncDaemon{}
	for _, s := range []ipvs.SyncState{ipvs.SyncMaster, ipvs.SyncBackup} {
		if d, ok := f.running[s]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// maxIfName is IP_VS_IFNAME_MAXLEN less its NUL: the netlink policy
// refuses a longer name, which the kernel reports as EINVAL.
const maxIfName = 15

// StartSyncDaemon starts d as the kernel does.
func (f *SyncDaemons) StartSyncDaemon(d ipvs.SyncDaemon) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFailure(); err != nil {
		return err
	}
	if len(d.Interface) > maxIfName {
		return syscall.EINVAL
	}
	// ip_vs_genl_new_daemon checks the group before the thread starts.
	if d.Group.IsValid() && !d.Group.IsMulticast() {
		return syscall.EINVAL
	}
	if !d.Group.IsValid() {
		d.Group = ipvs.DefaultSyncGroup
	}
	if d.Port == 0 {
		d.Port = ipvs.DefaultSyncPort
	}
	if d.TTL == 0 {
		d.TTL = ipvs.DefaultSyncTTL
	}
	mtu, ok := f.links[d.Interface]
	if !ok {
		return syscall.ENODEV
	}
	d.MaxLen = syncMaxLen(d, mtu)
	if d.State != ipvs.SyncMaster && d.State != ipvs.SyncBackup {
		return syscall.EINVAL
	}
	if _, ok := f.running[d.State]; ok {
		return syscall.EEXIST
	}
	f.running[d.State] = d
	return nil
}

// syncMaxLen is the message size the kernel settles on: a master sends
// at most 1500-byte packets whatever the link, a backup reads up to the
// link's MTU (at least 1500), less the IP and UDP headers; a size given
// is clamped, a backup's to at least 1024.
func syncMaxLen(d ipvs.SyncDaemon, linkMTU int) uint16 {
	hlen := 20 + 8
	if d.Group.Is6() {
		hlen = 40 + 8
	}
	mtu, minLen := 1500, 1
	if d.State == ipvs.SyncBackup {
		mtu, minLen = min(max(linkMTU, 1500), 65535), 1024
	}
	if d.MaxLen == 0 {
		return uint16(mtu - hlen)
	}
	return uint16(min(max(int(d.MaxLen), minLen), 65535-hlen))
}

// StopSyncDaemon stops the daemon of role s.
func (f *SyncDaemons) StopSyncDaemon(s ipvs.SyncState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeFailure(); err != nil {
		return err
	}
	if s != ipvs.SyncMaster && s != ipvs.SyncBackup {
		return syscall.EINVAL
	}
	if _, ok := f.running[s]; !ok {
		return syscall.ESRCH
	}
	delete(f.running, s)
	return nil
}

// Running returns the running daemons' roles, for assertions.
func (f *SyncDaemons) Running() []ipvs.SyncState {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ipvs.SyncState, 0, len(f.running))
	for s := range f.running {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
