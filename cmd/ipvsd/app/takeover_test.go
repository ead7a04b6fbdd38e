package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/kubeproxy"
	"github.com/ipvsd/ipvsd/ipvs"
)

// fakeSource counts what the programmer tells it.
type fakeSource struct{ programmed int }

func (f *fakeSource) Changes(context.Context, bool) (dataplane.Change, error) {
	return dataplane.Change{}, nil
}
func (f *fakeSource) Programmed(error) error { f.programmed++; return nil }
func (f *fakeSource) Conflicts([]ipvs.Key)   {}

// TestTakeOverSource: kube-proxy's leftovers are removed after the first
// sync without errors, never before, once; a removal that fails is
// reported with the sync and tried again after the next one.
func TestTakeOverSource(t *testing.T) {
	errSync, errRemove := errors.New("sync failed"), errors.New("removal failed")
	cases := []struct {
		name  string
		syncs []error // what each sync reports to Programmed
		fails int     // removals that fail first
		// removals and done: how many times removal ran, and whether
		// the adoption ended.
		removals int
		done     bool
		errs     []string // the error of each Programmed, "" for none
	}{
		{"first sync clean", []error{nil, nil}, 0, 1, true, []string{"", ""}},
		{"waits for a clean sync", []error{errSync, errSync, nil, nil}, 0, 1, true, []string{"", "", "", ""}},
		{"removal retried", []error{nil, nil, nil}, 1, 2, true, []string{"removal failed", "", ""}},
		{"never clean", []error{errSync, errSync}, 0, 0, false, []string{"", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &fakeSource{}
			var removals int
			done := false
			owned := map[ipvs.Key]string{}
			s := &takeOverSource{programSource: src, ctx: t.Context(), log: zaptest.NewLogger(t),
				owned: func() map[ipvs.Key]string { return owned },
				done:  func() { done = true },
				remove: func(_ context.Context, o map[ipvs.Key]string) (kubeproxy.Report, error) {
					removals++
					if removals <= c.fails {
						return kubeproxy.Report{}, errRemove
					}
					return kubeproxy.Report{Steps: []string{kubeproxy.StepLink}}, nil
				},
			}
			for i, err := range c.syncs {
				got := s.Programmed(err)
				if want := c.errs[i]; (got == nil) != (want == "") || (got != nil && !strings.Contains(got.Error(), want)) {
					t.Errorf("sync %d: Programmed = %v, want %q", i, got, want)
				}
			}
			if removals != c.removals || done != c.done || src.programmed != len(c.syncs) {
				t.Errorf("removals %d, done %v, source told %d times; want %d, %v, %d", removals, done, src.programmed, c.removals, c.done, len(c.syncs))
			}
		})
	}
}
