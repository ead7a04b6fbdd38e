package reconciler

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/controller/desired"
	"github.com/ipvsd/ipvsd/ipvs"
)

// retryBackoff paces the retries of virtual servers whose last apply
// failed, each on its own schedule: the first retry one interval after the
// failure, doubling on each further failure up to the maximum. So one that
// keeps failing is not retried on every sync that other changes cause, and
// one that fails once is retried after one interval, however long another
// has been failing (a single backoff for the whole sync would hold it
// back as long as the worst object's).
type retryBackoff struct {
	interval, max time.Duration
	byKey         map[ipvs.Key]*retryState
}

type retryState struct {
	failures int
	due      time.Time
	// want is the desired value that failed: a new desired value is
	// tried at once, not after the old one's backoff.
	want *desired.VirtualServer
	err  error
}

// failed records a failed apply of k towards want at now.
func (b *retryBackoff) failed(k ipvs.Key, want *desired.VirtualServer, now time.Time, err error) {
	if b.byKey == nil {
		b.byKey = map[ipvs.Key]*retryState{}
	}
	st := b.byKey[k]
	if st == nil {
		st = &retryState{}
		b.byKey[k] = st
	}
	st.failures++
	wait := b.interval
	for i := 1; i < st.failures && wait < b.max; i++ {
		wait *= 2
	}
	st.due, st.want, st.err = now.Add(min(wait, b.max)), want, err
}

// succeeded forgets k's failures.
func (b *retryBackoff) succeeded(k ipvs.Key) { delete(b.byKey, k) }

// waiting returns k's retry state when k failed, its desired value is
// still want, and its retry is not yet due.
func (b *retryBackoff) waiting(k ipvs.Key, want *desired.VirtualServer, now time.Time) *retryState {
	st := b.byKey[k]
	if st == nil || !now.Before(st.due) {
		return nil
	}
	if st.want != want && (st.want == nil || want == nil || !desired.EqualNormalized(st.want, want)) {
		return nil
	}
	return st
}

// prune forgets the keys a sync left clean: they no longer fail (they
// are no longer desired, or wait for a full resync as conflicts do), and
// a stale entry would keep asking for syncs.
func (b *retryBackoff) prune(dirty map[ipvs.Key]bool) {
	for k := range b.byKey {
		if !dirty[k] {
			delete(b.byKey, k)
		}
	}
}

// next is how long until the earliest retry is due; 0 when none is
// pending. A retry already due that this sync did not make (it could not
// create what it could not record, say) is left to the runner's own
// backoff rather than asked for at once, which would spin.
func (b *retryBackoff) next(now time.Time) time.Duration {
	var first time.Time
	for _, st := range b.byKey {
		if st.due.After(now) && (first.IsZero() || st.due.Before(first)) {
			first = st.due
		}
	}
	if first.IsZero() {
		return 0
	}
	return first.Sub(now)
}

// errWaiting reports a virtual server whose failed apply waits for its
// retry: its error stays in every sync's result until it succeeds.
func (st *retryState) errWaiting(now time.Time) error {
	return fmt.Errorf("%w (failure %d, retrying in %s)", st.err, st.failures, st.due.Sub(now))
}

// outcomeUnknown reports whether err leaves it open whether the kernel
// carried the write out: the request or its reply was lost, and the
// receive timeout (SO_RCVTIMEO) passed. The model cannot be trusted then.
func outcomeUnknown(err error) bool {
	return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ETIMEDOUT) || errors.Is(err, unix.ENOBUFS)
}
