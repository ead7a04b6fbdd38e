package main

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
	p := &profileSplitter{dir: t.TempDir(), out: &out}
	// Written in odd pieces, as the console delivers it.
	for _, chunk := range []string{console[:7], console[7:50], console[50:]} {
		if _, err := p.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if p.err != nil {
		t.Fatal(p.err)
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
