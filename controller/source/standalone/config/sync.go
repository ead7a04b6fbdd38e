package config

import (
	"net/netip"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/netlinkutil"
)

// Sync roles: which of the kernel's sync daemons this director runs.
const (
	RoleMaster = "master"
	RoleBackup = "backup"
	// RoleBoth runs both, for directors that take each other's flows
	// (several active directors behind ECMP).
	RoleBoth = "both"
)

// The kernel keeps a message size only in this range: it raises a
// backup's to 1024 and lowers any to 65535 less the IP and UDP headers
// (ip_vs_sync.c). A value it would change could never be seen running,
// and the reconciler would restart the daemon at every full resync.
const (
	minSyncMaxLen   = 1024
	maxSyncMaxLen4  = 65535 - 20 - 8
	maxSyncMaxLen16 = 65535 - 40 - 8
)

// Sync is the `sync:` section: the kernel's IPVS connection
// synchronisation daemons, which copy a director's connection table to
// the others so that a flow moving to another director keeps its real
// server whatever the scheduler.
type Sync struct {
	// Interface is the link sync messages are multicast on.
	Interface string `json:"interface"`
	// SyncID tags this group of directors' messages (0-255); a backup
	// with 0 accepts every master's.
	SyncID int    `json:"syncID,omitempty"`
	Role   string `json:"role"`
	// MaxLen, Group, Port and TTL are optional; the kernel's defaults are
	// the link's MTU less headers, 224.0.0.81, 8848 and 1.
	MaxLen int    `json:"maxLen,omitempty"`
	Group  string `json:"group,omitempty"`
	Port   int    `json:"port,omitempty"`
	TTL    int    `json:"ttl,omitempty"`

	group netip.Addr
}

func (s *Sync) validate(p *problems) {
	if s.Interface == "" {
		p.add("sync.interface", "is required")
	} else if !netlinkutil.ValidLinkName(s.Interface) {
		p.add("sync.interface", "%s is not a Linux interface name (1-15 bytes, not . or .., no /, : or whitespace)", quote(s.Interface))
	}
	if s.SyncID < 0 || s.SyncID > 255 {
		p.add("sync.syncID", "must be 0-255")
	}
	switch s.Role {
	case RoleMaster, RoleBackup, RoleBoth:
	case "":
		p.add("sync.role", "is required (%s, %s or %s)", RoleMaster, RoleBackup, RoleBoth)
	default:
		p.add("sync.role", "must be %s, %s or %s, not %s", RoleMaster, RoleBackup, RoleBoth, quote(s.Role))
	}
	s.group = netip.Addr{}
	maxLen := maxSyncMaxLen4
	if s.Group != "" {
		g, err := netip.ParseAddr(s.Group)
		switch {
		case err != nil || g.Zone() != "":
			p.add("sync.group", "%s is not an IP address", quote(s.Group))
		case !g.IsMulticast():
			p.add("sync.group", "%s is not a multicast address (224.0.0.0/4 or ff00::/8)", g)
		default:
			s.group = g.Unmap()
			if s.group.Is6() {
				maxLen = maxSyncMaxLen16
			}
		}
	}
	if s.MaxLen != 0 && (s.MaxLen < minSyncMaxLen || s.MaxLen > maxLen) {
		p.add("sync.maxLen", "must be %d-%d bytes (the kernel changes any other size)", minSyncMaxLen, maxLen)
	}
	if s.Port < 0 || s.Port > 65535 {
		p.add("sync.port", "must be 1-65535")
	}
	if s.TTL < 0 || s.TTL > 255 {
		p.add("sync.ttl", "must be 1-255")
	}
}

// SyncDaemons are the daemons the section asks for, master first; none
// without a section. Meaningful only after a nil Validate.
func (c *Config) SyncDaemons() []ipvs.SyncDaemon {
	s := c.Sync
	if s == nil {
		return nil
	}
	d := ipvs.SyncDaemon{
		Interface: s.Interface, SyncID: uint8(s.SyncID), MaxLen: uint16(s.MaxLen),
		Group: s.group, Port: uint16(s.Port), TTL: uint8(s.TTL),
	}
	var out []ipvs.SyncDaemon
	if s.Role == RoleMaster || s.Role == RoleBoth {
		d.State = ipvs.SyncMaster
		out = append(out, d)
	}
	if s.Role == RoleBackup || s.Role == RoleBoth {
		d.State = ipvs.SyncBackup
		out = append(out, d)
	}
	return out
}

// Sloppy says which of IPVS's sloppy modes the config needs: with them a
// director accepts a TCP or SCTP flow mid-connection (net.ipv4.vs.sloppy_tcp
// and sloppy_sctp) instead of dropping every packet that is not a SYN or
// INIT. That is what lets a flow that moves from another director (a
// failover, an ECMP rehash) carry on: with the sync daemon the connection
// may not have been copied yet, and with consistent hashing (mh over the
// same backends and weights on every director) there is nothing to copy.
// A config with several directors, which is a `sync:` or a `bgp:`
// section, wants sloppy TCP, and sloppy SCTP when it has an SCTP service.
func (c *Config) Sloppy() (tcp, sctp bool) {
	if c.Sync == nil && c.BGP == nil {
		return false, false
	}
	for i := range c.Services {
		if c.Services[i].parsed.key.Protocol == ipvs.SCTP {
			return true, true
		}
	}
	return true, false
}
