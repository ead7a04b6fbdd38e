//go:build lab

package mustfail

import (
	"os"
	"testing"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }

func TestBrokenAssertion(t *testing.T) {
	if got := 1 + 1; got != 3 {
		t.Fatalf("deliberately broken assertion: 1+1 = %d, want 3", got)
	}
}
