package dataplane

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/controller/firewall"
)

// blockingFW is a firewall whose Repair waits for release, recording the
// updates it is given.
type blockingFW struct {
	c       *calls
	release chan struct{}
	err     error

	mu      sync.Mutex
	applied []firewall.Update
}

func (f *blockingFW) Apply(_ context.Context, u firewall.Update) (firewall.Result, error) {
	f.c.add("fw.Apply")
	f.mu.Lock()
	f.applied = append(f.applied, u)
	f.mu.Unlock()
	return firewall.Result{}, nil
}

func (f *blockingFW) Repair(_ context.Context, u firewall.Update) (firewall.Result, error) {
	f.c.add("fw.Repair")
	<-f.release
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, u)
	err := f.err
	f.err = nil // once
	return firewall.Result{}, err
}

func part(owner string) firewall.Update {
	return firewall.Update{Parts: map[string]firewall.Part{owner: natService.Parts["ns/nat"]}}
}

// TestPeriodicRepairBesideTheSyncs: in the loop, the periodic firewall
// repair goes beside the syncs: a sync during it programs IPVS without
// waiting and keeps its firewall update, and the first sync after it
// applies every kept update at once; a failed repair is reported then and
// repaired again in line.
func TestPeriodicRepairBesideTheSyncs(t *testing.T) {
	c := &calls{}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	fw := &blockingFW{c: c, release: make(chan struct{})}
	p, err := New(Config{FullResyncInterval: time.Minute}, Deps{
		IPVS:         fakeIPVS{c: c},
		OpenFirewall: func(context.Context) (Firewall, error) { return fw, nil },
		Clock:        clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.repairAside = true // as Run sets it
	src := &fakeSource{c: c}
	step := func(adv time.Duration, want ...string) error {
		t.Helper()
		clock.now = clock.now.Add(adv)
		_, err := p.SyncOnce(context.Background(), src)
		if got := c.take(); !slices.Equal(got, want) {
			t.Errorf("calls %q, want %q", got, want)
		}
		return err
	}
	// The cold start repairs in line: release that one at once.
	go func() { fw.release <- struct{}{} }()
	if err := step(0, "src.Changes(full)", "fw.Repair", "ipvs.Apply", "src.Programmed"); err != nil {
		t.Fatal(err)
	}
	step(time.Minute, "src.Changes", "fw.Apply", "ipvs.Apply", "src.Programmed") // the full resync's IPVS part
	c.take()
	// The repair starts beside this sync, which goes on to IPVS.
	step(0, "src.Changes(full)", "ipvs.Apply", "src.Programmed")
	waitCalls(t, c, "fw.Repair")
	src.next.Firewall = part("ns/a")
	step(time.Second, "src.Changes", "ipvs.Apply", "src.Programmed")
	src.next.Firewall = part("ns/b")
	step(time.Second, "src.Changes", "ipvs.Apply", "src.Programmed")
	fw.mu.Lock()
	fw.err = errors.New("ipset save: exit status 1")
	failed := fw.err
	fw.mu.Unlock()
	fw.release <- struct{}{}
	<-p.repairing.done
	// The sync after it reports the failure and repairs again, in line,
	// with every update kept meanwhile.
	src.next.Firewall = part("ns/c")
	go func() { fw.release <- struct{}{} }()
	err = step(time.Second, "src.Changes", "fw.Repair", "ipvs.Apply", "src.Programmed")
	if !errors.Is(err, failed) {
		t.Errorf("sync after the failed repair: %v, want its error", err)
	}
	fw.mu.Lock()
	last := fw.applied[len(fw.applied)-1]
	fw.mu.Unlock()
	for _, o := range []string{"ns/a", "ns/b", "ns/c"} {
		if _, ok := last.Parts[o]; !ok {
			t.Errorf("the update after the repair lacks %s's part: %v", o, last.Parts)
		}
	}
	if p.repairing != nil || p.fwCheckDue {
		t.Errorf("after the repair in line: repairing %v, check due %t; want neither", p.repairing, p.fwCheckDue)
	}
	// The full resync ended with its firewall part, 3 s after it began:
	// its share of the time counts the repair, so the next is due 300 s
	// on, not a minute.
	if p.lastFullTook != 3*time.Second {
		t.Errorf("the full resync took %s; want 3 s, its repair beside the syncs included", p.lastFullTook)
	}
	step(time.Second, "src.Changes", "fw.Apply", "ipvs.Apply", "src.Programmed")

	// The next periodic repair succeeds: the first sync after it applies
	// the kept update, no repair in line.
	step(298*time.Second, "src.Changes", "fw.Apply", "ipvs.Apply", "src.Programmed")
	step(time.Second, "src.Changes", "fw.Apply", "ipvs.Apply", "src.Programmed") // due, after a change
	step(0, "src.Changes(full)", "ipvs.Apply", "src.Programmed")
	waitCalls(t, c, "fw.Repair")
	src.next.Firewall = part("ns/d")
	step(time.Second, "src.Changes", "ipvs.Apply", "src.Programmed")
	fw.release <- struct{}{}
	<-p.repairing.done
	src.next.Firewall = part("ns/e")
	if err := step(time.Second, "src.Changes", "fw.Apply", "ipvs.Apply", "src.Programmed"); err != nil {
		t.Errorf("sync after the repair: %v", err)
	}
	fw.mu.Lock()
	last = fw.applied[len(fw.applied)-1]
	fw.mu.Unlock()
	if _, ok := last.Parts["ns/d"]; !ok || len(last.Parts) != 2 {
		t.Errorf("the update after the repair is %v, want ns/d's and ns/e's parts", last.Parts)
	}
}

// waitCalls waits until the calls hold want (made by a goroutine).
func waitCalls(t *testing.T, c *calls, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		found := slices.Contains(c.log, want)
		c.mu.Unlock()
		if found {
			c.take()
			return
		}
	}
	t.Fatalf("no %s", want)
}
