package reconciler

import (
	"fmt"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// OpError is one failed kernel write, reported per object: it names the
// virtual server, the real server for real-server writes, and wraps the
// kernel's error, so a caller finds the errno with errors.Is and the
// object with errors.As.
type OpError struct {
	Op      desired.OpKind
	Service ipvs.Key
	// Dest is the real server; the zero DestKey for virtual-server writes.
	Dest ipvs.DestKey
	Err  error
}

func (e *OpError) Error() string {
	switch e.Op {
	case desired.OpAddService:
		return fmt.Sprintf("adding virtual server %s: %v", e.Service, e.Err)
	case desired.OpUpdateService:
		return fmt.Sprintf("updating virtual server %s: %v", e.Service, e.Err)
	case desired.OpDeleteService:
		return fmt.Sprintf("deleting virtual server %s: %v", e.Service, e.Err)
	case desired.OpAddDest:
		return fmt.Sprintf("adding real server %s to %s: %v", e.Dest, e.Service, e.Err)
	case desired.OpUpdateDest:
		return fmt.Sprintf("updating real server %s in %s: %v", e.Dest, e.Service, e.Err)
	case desired.OpDrainDest:
		return fmt.Sprintf("draining real server %s of %s: %v", e.Dest, e.Service, e.Err)
	case desired.OpDeleteDest:
		return fmt.Sprintf("deleting real server %s from %s: %v", e.Dest, e.Service, e.Err)
	}
	return fmt.Sprintf("%s %s %s: %v", e.Op, e.Service, e.Dest, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }
