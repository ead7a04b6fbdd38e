package ipvs

import "fmt"

// WriteOp is one kind of IPVS write request.
type WriteOp uint8

const (
	WriteAddService WriteOp = iota + 1
	WriteUpdateService
	WriteDeleteService
	WriteAddDest
	WriteUpdateDest
	WriteDeleteDest
)

var writeOpNames = [...]string{"", "add service", "update service", "delete service",
	"add real server", "update real server", "delete real server"}

func (o WriteOp) String() string {
	if int(o) > 0 && int(o) < len(writeOpNames) {
		return writeOpNames[o]
	}
	return fmt.Sprintf("WriteOp(%d)", int(o))
}

// Write is one IPVS write request as a value, so that many can be handed
// to the kernel at once.
type Write struct {
	Op WriteOp
	// Service is the virtual server written; for real-server writes and
	// WriteDeleteService only its Key is read.
	Service Service
	// Dest is the real server of a real-server write; for
	// WriteDeleteDest only its DestKey is read.
	Dest Destination
}

// Batcher is a Kernel that can carry out many writes in one exchange
// with the kernel. Its results are those of the single calls, in order:
// each write sees the table the writes before it left, a failed one does
// not stop the ones after it (the kernel's netlink_rcv_skb processes and
// acks every request of a buffer), and each error is wrapped and carries
// the errno exactly as the single call's would.
type Batcher interface {
	// Apply carries out ws in order and returns one error per write, nil
	// for each that succeeded.
	Apply(ws []Write) []error
}

// Apply carries out ws on k: in one batch when k is a Batcher, one call
// at a time otherwise. It returns one error per write.
func Apply(k Kernel, ws []Write) []error {
	if b, ok := k.(Batcher); ok {
		return b.Apply(ws)
	}
	return ApplyEach(k, ws)
}

// ApplyEach carries out ws on k one call at a time: what a Batcher must
// be indistinguishable from.
func ApplyEach(k Kernel, ws []Write) []error {
	errs := make([]error, len(ws))
	for i, w := range ws {
		errs[i] = w.On(k)
	}
	return errs
}

// On carries out w with k's single call.
func (w Write) On(k Kernel) error {
	switch w.Op {
	case WriteAddService:
		return k.AddService(w.Service)
	case WriteUpdateService:
		return k.UpdateService(w.Service)
	case WriteDeleteService:
		return k.DeleteService(w.Service.Key)
	case WriteAddDest:
		return k.AddDestination(w.Service.Key, w.Dest)
	case WriteUpdateDest:
		return k.UpdateDestination(w.Service.Key, w.Dest)
	case WriteDeleteDest:
		return k.DeleteDestination(w.Service.Key, w.Dest.DestKey)
	}
	return fmt.Errorf("unknown IPVS write %v", w.Op)
}

// Wrap wraps err, the outcome of w, as Handle's single calls wrap theirs
// (with the key and real server as given), so a batched write's error
// reads exactly as the same write's alone.
func (w Write) Wrap(err error) error {
	k, d := w.Service.Key, w.Dest.DestKey
	switch w.Op {
	case WriteAddService:
		return fmt.Errorf("adding virtual server %s: %w", k, err)
	case WriteUpdateService:
		return fmt.Errorf("updating virtual server %s: %w", k, err)
	case WriteDeleteService:
		return fmt.Errorf("deleting virtual server %s: %w", k, err)
	case WriteAddDest:
		return fmt.Errorf("adding real server %s to %s: %w", d, k, err)
	case WriteUpdateDest:
		return fmt.Errorf("updating real server %s in %s: %w", d, k, err)
	case WriteDeleteDest:
		return fmt.Errorf("deleting real server %s from %s: %w", d, k, err)
	}
	return fmt.Errorf("IPVS write %v on %s: %w", w.Op, k, err)
}
