package reconciler

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// do runs one op against the kernel (or takes its outcome when the write
// went ahead in a batch, see batch.go) and, on success, updates the model
// and the counts. want is the desired virtual server (nil when deleting it).
func (r *Reconciler) do(op desired.Op, want *desired.VirtualServer, now time.Time, res *Result) error {
	k := op.Service.Key
	st := r.svcs[k]
	switch op.Kind {
	case desired.OpAddService:
		if err := r.write(op); err != nil {
			return &OpError{Op: op.Kind, Service: k, Err: err}
		}
		r.svcs[k] = &svcState{have: ipvs.ServiceConfig{Service: op.Service}}
		res.Services.Added++
		r.log.Debug("added virtual server", zap.Stringer("service", k), zap.String("owner", want.Owner))

	case desired.OpUpdateService:
		if err := r.write(op); err != nil {
			return &OpError{Op: op.Kind, Service: k, Err: err}
		}
		st.have.Service = op.Service
		res.Services.Updated++

	case desired.OpDeleteService:
		err := r.write(op)
		if err != nil && !errors.Is(err, unix.ESRCH) {
			return &OpError{Op: op.Kind, Service: k, Err: err}
		}
		// Deleted by hand already (ESRCH) is what we wanted.
		r.dropService(k)
		if err == nil {
			res.Services.Deleted++
		}

	case desired.OpAddDest:
		if err := r.write(op); err != nil {
			return &OpError{Op: op.Kind, Service: k, Dest: op.Dest.DestKey, Err: err}
		}
		st.setDest(op.Dest)
		res.Destinations.Added++

	case desired.OpUpdateDest:
		if err := r.write(op); err != nil {
			return &OpError{Op: op.Kind, Service: k, Dest: op.Dest.DestKey, Err: err}
		}
		st.setDest(op.Dest)
		if r.drains.stop(k, op.Dest.DestKey) {
			// Back in the desired state while draining: the weight is
			// restored in place, its connections never noticed.
			r.log.Info("real server returned while draining", zap.Stringer("service", k), zap.Stringer("dest", op.Dest.DestKey))
		}
		res.Destinations.Updated++

	case desired.OpDrainDest:
		return r.startDrain(st, op, want, now, res)

	case desired.OpDeleteDest:
		if err := r.deleteDest(k, op.Dest.DestKey, res); err != nil {
			return err
		}

	default:
		return fmt.Errorf("unknown op %v", op.Kind)
	}
	return nil
}

// deleteDest deletes one real server and, for UDP, the conntrack entries
// that would keep steering clients to it.
func (r *Reconciler) deleteDest(k ipvs.Key, dk ipvs.DestKey, res *Result) error {
	r.wrote(k)
	err := r.deps.Kernel.DeleteDestination(k, dk)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return &OpError{Op: desired.OpDeleteDest, Service: k, Dest: dk, Err: err}
	}
	r.forgetDest(k, dk)
	if err == nil {
		res.Destinations.Deleted++
	}
	if k.Protocol != ipvs.UDP || k.IsFWMark() || r.deps.Conntrack == nil {
		return nil
	}
	n, cerr := r.deps.Conntrack.DeleteUDP(k.Address, k.Port, dk.Address, dk.Port)
	res.ConntrackDeleted += n
	if cerr != nil {
		// The real server is gone; there is nothing to retry in IPVS, and
		// the stale entries expire on their own. Report, do not retry.
		res.Errors = append(res.Errors, fmt.Errorf("deleting UDP conntrack entries for %s -> %s: %w", k, dk, cerr))
	}
	return nil
}
