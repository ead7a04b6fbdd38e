package nettest

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// NS is a named network namespace created by a test.
type NS struct {
	Name   string
	handle netns.NsHandle
}

// NewNS creates a named namespace (visible to `ip netns`) with lo up, and
// deletes it in t.Cleanup. The calling goroutine's namespace is unchanged.
func NewNS(t testing.TB, name string) *NS {
	t.Helper()
	var h netns.NsHandle
	err := onLockedThread(func() error {
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer orig.Close()
		// NewNamed unshares the current thread into the new namespace.
		h, err = netns.NewNamed(name)
		if err != nil {
			return fmt.Errorf("creating netns %s: %w", name, err)
		}
		return netns.Set(orig)
	})
	if err != nil {
		t.Fatal(err)
	}
	ns := &NS{Name: name, handle: h}
	t.Cleanup(func() {
		ns.handle.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("deleting netns %s: %v", name, err)
		}
	})
	if err := ns.Netlink(func(nh *netlink.Handle) error {
		lo, err := nh.LinkByName("lo")
		if err != nil {
			return err
		}
		return nh.LinkSetUp(lo)
	}); err != nil {
		t.Fatalf("netns %s: bringing lo up: %v", name, err)
	}
	return ns
}

// Current is the calling thread's namespace (an isolated test binary's
// own, see RunIsolated), so the package's servers and clients can run
// there beside the namespaces it creates. It is not deleted; its handle
// is closed in t.Cleanup.
func Current(t testing.TB) *NS {
	t.Helper()
	var h netns.NsHandle
	err := onLockedThread(func() (err error) { h, err = netns.Get(); return err })
	if err != nil {
		t.Fatalf("the current namespace: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return &NS{Name: "current", handle: h}
}

// Handle is the namespace's file descriptor handle.
func (ns *NS) Handle() netns.NsHandle { return ns.handle }

// Do runs f with the calling OS thread switched into the namespace, and
// switches back afterwards. Anything f creates (sockets, links) lives in the
// namespace; f must not start goroutines that expect to inherit it.
func (ns *NS) Do(f func() error) error {
	return onLockedThread(func() error {
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer orig.Close()
		if err := netns.Set(ns.handle); err != nil {
			return fmt.Errorf("entering netns %s: %w", ns.Name, err)
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			// The thread is in the wrong namespace: keep it locked so the
			// runtime discards it instead of reusing it.
			runtime.LockOSThread()
			return fmt.Errorf("leaving netns %s: %w", ns.Name, err)
		}
		return ferr
	})
}

// Netlink runs f with a netlink handle bound to the namespace (no thread
// switching needed).
func (ns *NS) Netlink(f func(*netlink.Handle) error) error {
	h, err := netlink.NewHandleAt(ns.handle)
	if err != nil {
		return fmt.Errorf("netlink handle in %s: %w", ns.Name, err)
	}
	defer h.Close()
	return f(h)
}

func onLockedThread(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return f()
}
