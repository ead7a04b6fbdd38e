package ipvs

import (
	"testing"
	"unsafe"
)

// Desired state holds one Destination per real server: 100,000 of them at
// 10,000 Services x 10 endpoints, and a Service per virtual server in
// several places (desired state, the model, the ownership record). The
// kernel's counters live in DestinationState and ServiceWithDests so that
// they do not ride along (80 bytes a real server with its connection
// counts and a pointer to its stats, 56 without; 80 bytes more a
// service). A sync's dump leaves the real servers' stats out, 80 bytes
// each.
func TestWrittenTypesHoldOnlyWhatIsWritten(t *testing.T) {
	if got, limit := unsafe.Sizeof(Service{}), uintptr(88); got > limit {
		t.Errorf("Service is %d bytes, want at most %d: keep the kernel's counters in ServiceWithDests", got, limit)
	}
	if got, limit := unsafe.Sizeof(Destination{}), uintptr(56); got > limit {
		t.Errorf("Destination is %d bytes, want at most %d: keep the kernel's counters in DestinationState", got, limit)
	}
	if got, limit := unsafe.Sizeof(DestinationState{}), uintptr(80); got > limit {
		t.Errorf("DestinationState is %d bytes, want at most %d: keep its stats behind a pointer, which a sync's dump leaves nil", got, limit)
	}
}
