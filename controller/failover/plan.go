package failover

import (
	"github.com/ipvsd/ipvsd/ipvs"
)

// Roles are the two daemons a network namespace can run, in the order
// they are planned and started.
var Roles = []ipvs.SyncState{ipvs.SyncMaster, ipvs.SyncBackup}

// Op is one step of a plan: stop the running daemon of a role, start one,
// or both in that order (a changed interface or sync ID).
type Op struct {
	Role ipvs.SyncState
	Stop bool
	// Start is the daemon to start, nil for none.
	Start *ipvs.SyncDaemon
	// Foreign: the daemon stopped was not started by ipvsd (the config
	// asks for the role with other settings).
	Foreign bool
}

// Plan is what takes the kernel from running to want. owned are the
// daemons ipvsd started, as it asked for them; a running daemon is ipvsd's
// only if it still satisfies that request (one restarted by hand with
// other settings is not). Owned is the record after the plan: the daemons
// that will be ipvsd's. Foreign lists the daemons left running that are
// not ipvsd's and that the config does not replace.
func Plan(want, running, owned []ipvs.SyncDaemon) (ops []Op, own, foreign []ipvs.SyncDaemon) {
	for _, r := range Roles {
		w, g, o := byRole(want, r), byRole(running, r), byRole(owned, r)
		ours := g != nil && o != nil && g.Satisfies(*o)
		switch {
		case w == nil && g == nil:
		case w == nil && ours:
			ops = append(ops, Op{Role: r, Stop: true})
		case w == nil:
			foreign = append(foreign, *g)
		case g == nil:
			ops = append(ops, Op{Role: r, Start: w})
			own = append(own, *w)
		case g.Satisfies(*w):
			if ours {
				own = append(own, *o)
			} else {
				// Already as asked, started by someone else: left
				// alone, and left theirs (cleanup will not stop it).
				foreign = append(foreign, *g)
			}
		default:
			ops = append(ops, Op{Role: r, Stop: true, Start: w, Foreign: !ours})
			own = append(own, *w)
		}
	}
	return ops, own, foreign
}

func byRole(ds []ipvs.SyncDaemon, r ipvs.SyncState) *ipvs.SyncDaemon {
	for i := range ds {
		if ds[i].State == r {
			return &ds[i]
		}
	}
	return nil
}
