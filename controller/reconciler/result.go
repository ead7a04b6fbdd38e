package reconciler

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/ipvs"
)

// Counts are writes of one kind of object.
type Counts struct {
	Added, Updated, Deleted int
}

func (c Counts) total() int { return c.Added + c.Updated + c.Deleted }

func (c Counts) String() string {
	return fmt.Sprintf("+%d ~%d -%d", c.Added, c.Updated, c.Deleted)
}

// Result is what one Sync or Apply did. It is returned even when it
// fails, so a caller can log and export it.
type Result struct {
	// Full is set when the sync compared virtual servers with a dump and
	// repaired drift: the whole table, or one slice of a sweep (the dump
	// is taken by the sweep's first sync).
	Full bool
	// SweepLeft counts the virtual servers a sweep under way has still to
	// compare: the next sync goes on with it. SweepDone is set by the
	// sync that compared the last.
	SweepLeft int
	SweepDone bool
	// Dumps counts reads of the IPVS table (full or per service).
	Dumps int
	// Planned counts the virtual servers the sync looked at: on a full
	// resync every desired or owned one, otherwise only those whose
	// desired value changed since it was applied or whose last apply
	// failed. It is what makes a sync's cost follow the change.
	Planned int

	Services Counts
	// Adopted counts another program's virtual servers taken over in
	// place (Reconciler.Adopt).
	Adopted      int
	Destinations Counts // Deleted includes drains that finished
	Addresses    Counts // Updated is unused

	// DrainsStarted counts real servers set to weight 0 to drain;
	// DrainsFinished those deleted since (idle or timed out); Draining
	// those still draining after this sync.
	DrainsStarted, DrainsFinished, Draining int
	// ConntrackDeleted counts UDP conntrack entries removed.
	ConntrackDeleted int

	// Conflicts are desired virtual servers that exist in the kernel but
	// are not ours; they are left alone and rechecked on full resync.
	Conflicts []ipvs.Key
	// Errors are every failed operation; Sync returns them joined.
	Errors []error
	// NeedsRetry is set when work failed and the next sync should come
	// soon (the runner's retry interval) rather than at the next change.
	NeedsRetry bool
	// RequeueAfter, when non-zero, is when the reconciler next needs a sync
	// without any change to the desired state: the next drain check or
	// drain deadline.
	RequeueAfter time.Duration

	// drainWrites counts weight-0 writes (a drain adopted after a restart
	// may find the weight already 0).
	drainWrites int
}

// Writes is the number of kernel and address writes the sync made.
func (res *Result) Writes() int {
	return res.Services.total() + res.Destinations.total() + res.Addresses.total() + res.drainWrites
}

func (res *Result) String() string {
	return fmt.Sprintf("full=%t dumps=%d planned=%d services[%s] dests[%s] addrs[%s] drains(+%d -%d =%d) conflicts=%d errors=%d",
		res.Full, res.Dumps, res.Planned, res.Services, res.Destinations, res.Addresses,
		res.DrainsStarted, res.DrainsFinished, res.Draining, len(res.Conflicts), len(res.Errors))
}

// fail records a failed operation, which makes the sync worth retrying
// soon.
func (res *Result) fail(err error) {
	res.Errors = append(res.Errors, err)
	res.NeedsRetry = true
}

// lastError is the error recorded last: the one a failed plan ended on.
func (res *Result) lastError() error {
	if len(res.Errors) == 0 {
		return nil
	}
	return res.Errors[len(res.Errors)-1]
}

// report logs a sync that did something, failed or was a full resync; an
// idle sync says nothing, so the log follows the work.
func (res *Result) report(log *zap.Logger) {
	if res.Writes() == 0 && len(res.Errors) == 0 && !res.Full {
		return
	}
	fields := []zap.Field{
		zap.Bool("full", res.Full),
		zap.Int("dumps", res.Dumps),
		zap.Int("planned", res.Planned),
		zap.Stringer("services", res.Services),
		zap.Stringer("destinations", res.Destinations),
		zap.Stringer("addresses", res.Addresses),
		zap.Int("drainsStarted", res.DrainsStarted),
		zap.Int("drainsFinished", res.DrainsFinished),
		zap.Int("draining", res.Draining),
		zap.Int("errors", len(res.Errors)),
	}
	if len(res.Errors) > 0 {
		log.Warn("sync finished with errors", append(fields, zap.Error(errors.Join(res.Errors...)))...)
		return
	}
	log.Info("sync finished", fields...)
}
