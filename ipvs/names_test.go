package ipvs

import (
	"slices"
	"testing"
)

func TestFlagNamesRoundTrip(t *testing.T) {
	all := FlagPersistent | FlagOnePacket | FlagSHFallback | FlagSHPort | FlagMHFallback | FlagMHPort | FlagSched3
	names := all.Names()
	want := []string{"persistent", "ops", "sh-fallback", "sh-port", "mh-fallback", "mh-port", "flag-3"}
	if !slices.Equal(names, want) {
		t.Fatalf("Names %v, want %v", names, want)
	}
	var back Flags
	for _, n := range names {
		f, ok := ParseFlagName(n)
		if !ok {
			t.Fatalf("ParseFlagName(%q) failed", n)
		}
		back |= f
	}
	if back != all {
		t.Fatalf("round trip %b, want %b", back, all)
	}
	if _, ok := ParseFlagName("bogus"); ok {
		t.Fatal("bogus parsed")
	}
}

func TestSchedulerFlag(t *testing.T) {
	tests := []struct {
		name  string
		flag  Flags
		sched string
		ok    bool
	}{
		{"sh-fallback", FlagSHFallback, "sh", true},
		{"sh-port", FlagSHPort, "sh", true},
		{"mh-fallback", FlagMHFallback, "mh", true},
		{"mh-port", FlagMHPort, "mh", true},
		{"ops", FlagOnePacket, "", true},
		{"persistent", 0, "", false}, // set by a timeout, not by name
		{"flag-3", 0, "", false},
		{"bogus", 0, "", false},
	}
	for _, tt := range tests {
		f, sched, ok := SchedulerFlag(tt.name)
		if f != tt.flag || sched != tt.sched || ok != tt.ok {
			t.Errorf("SchedulerFlag(%q) = %v, %q, %v; want %v, %q, %v", tt.name, f, sched, ok, tt.flag, tt.sched, tt.ok)
		}
	}
}
