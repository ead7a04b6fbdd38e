package netlinkutil

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// KernelVersion is a kernel's major and minor version: 6.1 for
// "6.1.0-56-amd64".
type KernelVersion struct {
	Major, Minor int
}

func (v KernelVersion) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// AtLeast reports whether v is major.minor or later.
func (v KernelVersion) AtLeast(major, minor int) bool {
	if v.Major != major {
		return v.Major > major
	}
	return v.Minor >= minor
}

// ParseKernelRelease reads the version at the start of a release string as
// uname -r prints it ("5.4.0-1045-aws", "6.8.0-rc3", "4.19.112+"); only
// major and minor matter to us.
func ParseKernelRelease(release string) (KernelVersion, error) {
	fields := strings.SplitN(release, ".", 3)
	if len(fields) < 2 {
		return KernelVersion{}, fmt.Errorf("kernel release %q: want major.minor", release)
	}
	major, err := strconv.Atoi(fields[0])
	if err != nil {
		return KernelVersion{}, fmt.Errorf("kernel release %q: major version: %w", release, err)
	}
	// The minor number may run straight into a suffix: "5.10-rc1".
	minorDigits := fields[1]
	if i := strings.IndexFunc(minorDigits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minorDigits = minorDigits[:i]
	}
	minor, err := strconv.Atoi(minorDigits)
	if err != nil {
		return KernelVersion{}, fmt.Errorf("kernel release %q: minor version: %w", release, err)
	}
	return KernelVersion{Major: major, Minor: minor}, nil
}

// KernelRelease is the running kernel's release string (uname -r).
func KernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// ConnReuseMode is the value net.ipv4.vs.conn_reuse_mode should have on a
// kernel of version v.
//
// With conntrack=1, kernels before 5.9 handle a new connection that reuses
// the source port of an old one (mode 1, the default) by dropping its first
// SYN while the old entry expires: a one-second stall on every such
// connect, which busy clients hit all the time. Mode 0 avoids the stall, at
// the price of sending the reused port to the old connection's real server
// even when that server is quiescent or gone. Linux 5.9 fixed both the
// stall ("ipvs: allow connection reuse for unconfirmed conntrack") and the
// expiry of connections to removed servers ("ipvs: queue delayed work to
// expire no destination connections if expire_nodest_conn=1"); see
// kubernetes/kubernetes#93297. From 5.9 on, the default 1 is right and 0
// would only keep the stale pinning, so we put 1 back if someone set 0.
func ConnReuseMode(v KernelVersion) string {
	if v.AtLeast(5, 9) {
		return "1"
	}
	return "0"
}
