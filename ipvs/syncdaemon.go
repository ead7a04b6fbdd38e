package ipvs

import (
	"fmt"
	"net/netip"
	"strings"
)

// SyncState is a connection-synchronisation daemon's role
// (IP_VS_STATE_MASTER, IP_VS_STATE_BACKUP in include/uapi/linux/ip_vs.h).
// A network namespace runs at most one of each.
type SyncState uint32

const (
	// SyncMaster multicasts the connections of this director's table.
	SyncMaster SyncState = 1
	// SyncBackup receives them and adds them to this director's table, so
	// that a flow moving here keeps its real server.
	SyncBackup SyncState = 2
)

func (s SyncState) String() string {
	switch s {
	case SyncMaster:
		return "master"
	case SyncBackup:
		return "backup"
	}
	return fmt.Sprintf("state(%d)", uint32(s))
}

// The kernel's defaults for a daemon started without the optional
// settings (IP_VS_SYNC_GROUP, IP_VS_SYNC_PORT in ip_vs_sync.c; a TTL of 1
// keeps sync messages on the link).
var (
	DefaultSyncGroup = netip.AddrFrom4([4]byte{224, 0, 0, 81})
)

const (
	DefaultSyncPort = 8848
	DefaultSyncTTL  = 1
)

// SyncDaemon is one running (or wanted) sync daemon. In a write, a zero
// MaxLen, Port or TTL and an invalid Group leave the kernel's default; a
// read shows the values in force.
type SyncDaemon struct {
	State SyncState `json:"state"`
	// Interface is the link the multicast is sent or received on
	// (ipvsadm's --mcast-interface).
	Interface string `json:"interface"`
	// SyncID tags the messages; a backup with SyncID 0 accepts every
	// master's. The protocol carries 8 bits.
	SyncID uint8 `json:"syncID"`
	// MaxLen is the UDP payload size of a sync message.
	MaxLen uint16     `json:"maxLen,omitempty"`
	Group  netip.Addr `json:"group,omitzero"`
	Port   uint16     `json:"port,omitempty"`
	TTL    uint8      `json:"ttl,omitempty"`
}

// Satisfies reports whether the running daemon got meets w, a wanted
// one: the same role, interface and sync ID, and each optional setting w
// names. Defaults w leaves to the kernel are whatever the kernel chose.
func (got SyncDaemon) Satisfies(w SyncDaemon) bool {
	switch {
	case got.State != w.State, got.Interface != w.Interface, got.SyncID != w.SyncID:
		return false
	case w.MaxLen != 0 && got.MaxLen != w.MaxLen:
		return false
	case w.Group.IsValid() && got.Group != w.Group:
		return false
	case w.Port != 0 && got.Port != w.Port:
		return false
	case w.TTL != 0 && got.TTL != w.TTL:
		return false
	}
	return true
}

// String is the daemon as `ipvsadm -L --daemon` prints it (1.31).
func (d SyncDaemon) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sync daemon (mcast=%s, syncid=%d", d.State, d.Interface, d.SyncID)
	if d.MaxLen != 0 {
		fmt.Fprintf(&b, ", maxlen=%d", d.MaxLen)
	}
	if d.Group.IsValid() {
		fmt.Fprintf(&b, ", group=%s", d.Group)
	}
	if d.Port != 0 {
		fmt.Fprintf(&b, ", port=%d", d.Port)
	}
	if d.TTL != 0 {
		fmt.Fprintf(&b, ", ttl=%d", d.TTL)
	}
	b.WriteString(")")
	return b.String()
}

// SyncDaemons reads, starts and stops the kernel's connection-sync
// daemons of one network namespace (IPVS_CMD_GET_DAEMON, NEW_DAEMON,
// DEL_DAEMON, which moby/ipvs does not wrap). The kernel fails Start with
// EEXIST when that role already runs and ENODEV when the interface does
// not exist, and Stop with ESRCH when the role is not running.
type SyncDaemons interface {
	SyncDaemons() ([]SyncDaemon, error)
	StartSyncDaemon(SyncDaemon) error
	StopSyncDaemon(SyncState) error
}

// MarshalText spells the role as ipvsadm does (master, backup).
func (s SyncState) MarshalText() ([]byte, error) {
	if s != SyncMaster && s != SyncBackup {
		return nil, fmt.Errorf("no sync daemon role %d", uint32(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads master or backup.
func (s *SyncState) UnmarshalText(b []byte) error {
	switch string(b) {
	case "master":
		*s = SyncMaster
	case "backup":
		*s = SyncBackup
	default:
		return fmt.Errorf("sync daemon role %q: want master or backup", b)
	}
	return nil
}
