package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// profileSplitter passes the guest console through to out, except blocks
// between "=== pprof NAME begin" and "=== pprof NAME end", which it decodes
// from base64 into dir/NAME.pprof: the VM has no other way back to the host.
type profileSplitter struct {
	dir     string
	out     io.Writer
	partial []byte
	name    string
	b64     strings.Builder
	written []string
	err     error
}

func (p *profileSplitter) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.line(strings.TrimRight(string(p.partial[:i]), "\r"))
		p.partial = p.partial[i+1:]
	}
}

func (p *profileSplitter) line(l string) {
	// The console prefixes nothing, but the kernel may interleave a
	// message: only whole marker lines count.
	switch {
	case strings.HasPrefix(l, "=== pprof ") && strings.HasSuffix(l, " begin"):
		p.name = strings.TrimSuffix(strings.TrimPrefix(l, "=== pprof "), " begin")
		p.b64.Reset()
	case p.name != "" && l == "=== pprof "+p.name+" end":
		p.save()
		p.name = ""
	case p.name != "":
		p.b64.WriteString(strings.TrimSpace(l))
	default:
		fmt.Fprintln(p.out, l)
	}
}

func (p *profileSplitter) save() {
	data, err := base64.StdEncoding.DecodeString(p.b64.String())
	if err != nil {
		p.err = fmt.Errorf("profile %s: %w", p.name, err)
		return
	}
	path := filepath.Join(p.dir, p.name+".pprof")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		p.err = err
		return
	}
	p.written = append(p.written, path)
}
