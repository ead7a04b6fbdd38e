package lab

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ProfileSplitter passes the guest console through to out, except blocks
// between "=== pprof NAME begin" and "=== pprof NAME end", which it decodes
// from base64 into dir/NAME.pprof: the VM has no other way back to the host.
// The guest side writes them with EmitProfile.
type ProfileSplitter struct {
	dir     string
	out     io.Writer
	partial []byte
	name    string
	b64     strings.Builder
	written []string
	err     error
}

// NewProfileSplitter writes profiles to dir and everything else to out.
func NewProfileSplitter(dir string, out io.Writer) *ProfileSplitter {
	return &ProfileSplitter{dir: dir, out: out}
}

// Written are the profile files written so far.
func (p *ProfileSplitter) Written() []string { return p.written }

// Err is the first profile that could not be decoded or written.
func (p *ProfileSplitter) Err() error { return p.err }

func (p *ProfileSplitter) Write(b []byte) (int, error) {
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

func (p *ProfileSplitter) line(l string) {
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

func (p *ProfileSplitter) save() {
	data, err := base64.StdEncoding.DecodeString(p.b64.String())
	if err != nil {
		p.err = errors.Join(p.err, fmt.Errorf("profile %s: %w", p.name, err))
		return
	}
	path := filepath.Join(p.dir, p.name+".pprof")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		p.err = errors.Join(p.err, err)
		return
	}
	p.written = append(p.written, path)
}

// EmitProfile writes data to w as a block ProfileSplitter decodes: base64
// in lines of 76 characters between the marker lines.
func EmitProfile(w io.Writer, name string, data []byte) error {
	var b strings.Builder
	b.WriteString("=== pprof " + name + " begin\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n=== pprof " + name + " end\n")
	_, err := io.WriteString(w, b.String())
	return err
}
