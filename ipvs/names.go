package ipvs

// Schedulers are the IPVS schedulers Linux ships (twos since 6.2). Callers
// check a configured name against it so that a typo is reported where it
// was written, not as a bare ENOENT from the kernel after the service was
// accepted.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos"}

// flagNames name the Flags bits, in bit order, as ipvsd spells them in
// configuration, the published desired state and `ipvsd list`.
var flagNames = [...]string{"persistent", "ops", "sh-fallback", "sh-port", "mh-fallback", "mh-port", "flag-3"}

// flagScheduler is the scheduler that gives a flag its meaning: the kernel
// reuses the scheduler bits, so sh-port under mh would silently mean
// mh-port.
var flagScheduler = map[Flags]string{
	FlagSHFallback: "sh", FlagSHPort: "sh",
	FlagMHFallback: "mh", FlagMHPort: "mh",
}

// Names returns the names of the bits set in f, in bit order.
func (f Flags) Names() []string {
	var out []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// ParseFlagName returns the flag a name from Names stands for.
func ParseFlagName(name string) (Flags, bool) {
	for i, n := range flagNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// SchedulerFlag returns the flag a user may set by name (sh-fallback,
// sh-port, mh-fallback, mh-port, ops) and the scheduler it requires ("" for
// any). Persistence is set by a timeout, not by name, so "persistent" is
// not among them.
func SchedulerFlag(name string) (f Flags, scheduler string, ok bool) {
	f, ok = ParseFlagName(name)
	if !ok || f == FlagPersistent || f == FlagSched3 {
		return 0, "", false
	}
	return f, flagScheduler[f], true
}
