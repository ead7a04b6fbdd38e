package desired

import (
	"fmt"

	"github.com/ipvsd/ipvsd/ipvs"
)

// OpKind is what one operation does.
type OpKind uint8

const (
	OpAddService OpKind = iota + 1
	OpUpdateService
	OpDeleteService
	OpAddDest
	OpUpdateDest
	// OpDrainDest takes a real server out of rotation without cutting its
	// connections: its weight goes to 0 (one write, skipped if it already
	// is 0) and the reconciler deletes it later, once idle or timed out.
	OpDrainDest
	OpDeleteDest
)

func (k OpKind) String() string {
	switch k {
	case OpAddService:
		return "add-service"
	case OpUpdateService:
		return "update-service"
	case OpDeleteService:
		return "delete-service"
	case OpAddDest:
		return "add-dest"
	case OpUpdateDest:
		return "update-dest"
	case OpDrainDest:
		return "drain-dest"
	case OpDeleteDest:
		return "delete-dest"
	}
	return fmt.Sprintf("op-%d", uint8(k))
}

// Op is one step of a reconciliation. Service ops use Service; real server
// ops use Service.Key and Dest. For OpDrainDest, Dest is the real server as
// it is now (its current weight says whether a write is needed).
type Op struct {
	Kind    OpKind
	Service ipvs.Service
	Dest    ipvs.Destination
}

// String renders an op for logs and table tests, e.g.
// "add-dest TCP 192.0.2.1:80 -> 10.0.0.1:80 Masq w=1".
func (o Op) String() string {
	switch o.Kind {
	case OpAddService, OpUpdateService:
		s := o.Service
		str := fmt.Sprintf("%s %s %s", o.Kind, s.Key, s.Scheduler)
		if s.Flags != 0 {
			str += fmt.Sprintf(" flags=%#x", uint32(s.Flags))
		}
		if s.Timeout != 0 {
			str += fmt.Sprintf(" timeout=%d", s.Timeout)
		}
		return str
	case OpDeleteService:
		return fmt.Sprintf("%s %s", o.Kind, o.Service.Key)
	case OpAddDest, OpUpdateDest:
		d := o.Dest
		str := fmt.Sprintf("%s %s -> %s %s w=%d", o.Kind, o.Service.Key, d.DestKey, d.Forwarding, d.Weight)
		if d.UpperThreshold != 0 || d.LowerThreshold != 0 {
			str += fmt.Sprintf(" x=%d y=%d", d.UpperThreshold, d.LowerThreshold)
		}
		return str
	case OpDrainDest, OpDeleteDest:
		return fmt.Sprintf("%s %s -> %s", o.Kind, o.Service.Key, o.Dest.DestKey)
	}
	return o.Kind.String()
}
