package ipvs

import (
	"fmt"
	"time"
)

// Timeouts are IPVS's connection timeouts, one value per table, for every
// virtual server (`ipvsadm --set tcp tcpfin udp`, `ipvsadm -L --timeout`).
// Zero in a write leaves that timeout as it is, as the kernel does.
type Timeouts struct {
	TCP, TCPFin, UDP time.Duration
}

// KernelDefaultTimeouts are what a freshly loaded ip_vs starts with.
var KernelDefaultTimeouts = Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}

func (t Timeouts) String() string {
	return fmt.Sprintf("tcp %s tcpfin %s udp %s", t.TCP, t.TCPFin, t.UDP)
}

// Merge returns t with the non-zero values of w: what a write of w leaves.
func (t Timeouts) Merge(w Timeouts) Timeouts {
	if w.TCP != 0 {
		t.TCP = w.TCP
	}
	if w.TCPFin != 0 {
		t.TCPFin = w.TCPFin
	}
	if w.UDP != 0 {
		t.UDP = w.UDP
	}
	return t
}

// TimeoutConfig reads and writes the timeouts. It is apart from Kernel:
// only the Kubernetes mode sets them, as kube-proxy does.
type TimeoutConfig interface {
	Timeouts() (Timeouts, error)
	SetTimeouts(Timeouts) error
}
