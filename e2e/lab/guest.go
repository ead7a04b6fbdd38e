package lab

import (
	"os/exec"
	"testing"
)

// ResetIPVS empties the guest kernel's IPVS table and deletes the dummy
// link named link, now and again when the test ends, so each guest test
// starts from an empty table. It runs inside the lab VM only.
func ResetIPVS(t testing.TB, link string) {
	t.Helper()
	reset := func() {
		if out, err := exec.Command("ipvsadm", "-C").CombinedOutput(); err != nil {
			t.Fatalf("ipvsadm -C: %v\n%s", err, out)
		}
		_ = exec.Command("/sbin/ip", "link", "del", link).Run() // absent is fine
	}
	reset()
	t.Cleanup(reset)
}
