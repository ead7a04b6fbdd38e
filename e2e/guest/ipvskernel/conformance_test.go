//go:build lab

package ipvskernel

import (
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvstest"
)

// TestConformance runs the table the fake passes on the host against the
// real kernel: same results, same errnos.
func TestConformance(t *testing.T) {
	ipvstest.RunConformance(t, func(t *testing.T) ipvs.Kernel { return newKernelNS(t).h })
}

func TestInfo(t *testing.T) {
	info, err := newKernelNS(t).h.Info()
	if err != nil {
		t.Fatal(err)
	}
	if want := ipvstest.New().Info(); info != want {
		t.Errorf("Info() = %+v (%s), want the fake's %+v", info, info.VersionString(), want)
	}
}
