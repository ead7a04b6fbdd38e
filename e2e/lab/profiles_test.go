package lab

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestProfileSplitter(t *testing.T) {
	data := bytes.Repeat([]byte("pprof\x00\x01"), 40)
	enc := base64.StdEncoding.EncodeToString(data)
	console := "boot line\n=== pprof cold-cpu-1 begin\n" + enc[:60] + "\r\n" + enc[60:] + "\n=== pprof cold-cpu-1 end\nfigure: x 1 s\n"
	var out bytes.Buffer
	p := NewProfileSplitter(t.TempDir(), &out)
	// Written in odd pieces, as the console delivers it.
	for _, chunk := range []string{console[:7], console[7:50], console[50:]} {
		if _, err := p.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	if got, want := out.String(), "boot line\nfigure: x 1 s\n"; got != want {
		t.Errorf("passed through %q, want %q", got, want)
	}
	got, err := os.ReadFile(filepath.Join(p.dir, "cold-cpu-1.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("decoded %d bytes, want the %d written", len(got), len(data))
	}
}

// TestEmitProfile: what the guest emits, the host decodes, whatever its
// size.
func TestEmitProfile(t *testing.T) {
	for _, n := range []int{0, 1, 57, 4096} {
		data := bytes.Repeat([]byte{0xff, 0x00, 'x'}, n)
		var console, out bytes.Buffer
		console.WriteString("before\n")
		if err := EmitProfile(&console, "idle-cpu", data); err != nil {
			t.Fatal(err)
		}
		console.WriteString("after\n")
		p := NewProfileSplitter(t.TempDir(), &out)
		if _, err := p.Write(console.Bytes()); err != nil || p.Err() != nil {
			t.Fatal(err, p.Err())
		}
		if len(p.Written()) != 1 {
			t.Fatalf("%d bytes: wrote %v, want one profile", 3*n, p.Written())
		}
		got, err := os.ReadFile(p.Written()[0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) || out.String() != "before\nafter\n" {
			t.Errorf("%d bytes: decoded %d bytes, passed through %q", 3*n, len(got), out.String())
		}
	}
}
