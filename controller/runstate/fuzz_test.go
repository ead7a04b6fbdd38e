package runstate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ipvsd/ipvsd/ipvs"
)

// FuzzLoadRecord: the record loader never panics, and whatever it
// accepts, Save writes so that it loads back as the same record (so a
// record it takes is one ipvsd could have written). The seeds, which run
// in every go test, are the files of testdata, a record with other
// parameters and every bad record of TestLoadRejectsBadRecords.
func FuzzLoadRecord(f *testing.F) {
	for _, name := range []string{"state-v1.json", "state-v1-params.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	rec, _ := v1Fixture()
	rec.Config[webKey] = ipvs.Service{Key: webKey, Scheduler: "wrr", Timeout: 60, Netmask: 24}.Canonical()
	rec.Config[mark4] = ipvs.Service{Key: mark4, Scheduler: "sh", Flags: ipvs.FlagSHFallback | ipvs.FlagOnePacket}.Canonical()
	withParams, err := rec.marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(withParams)
	for _, tc := range badRecords {
		f.Add([]byte(tc.record))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := unmarshalRecord(b)
		if err != nil {
			return
		}
		out, err := rec.marshal()
		if err != nil {
			t.Fatalf("accepted %q but cannot write it: %v", b, err)
		}
		back, err := unmarshalRecord(out)
		if err != nil {
			t.Fatalf("accepted %q, wrote\n%s\nand refused that: %v", b, out, err)
		}
		if !back.Equal(rec) {
			t.Fatalf("accepted %q as %+v, wrote\n%s\nand read back %+v", b, rec, out, back)
		}
	})
}
