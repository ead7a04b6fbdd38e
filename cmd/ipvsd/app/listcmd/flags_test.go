package listcmd

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/ipvsd/ipvsd/ipvs"
)

// parse reads list's arguments as the cobra command does (cobra parses
// with pflag's FlagSet.Parse), then checks them as Run does first.
func parse(args []string) (Options, error) {
	fs := pflag.NewFlagSet("list", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if err := NoArgs(fs.Args()); err != nil {
		return Options{}, err
	}
	o, err := f.Options(fs)
	if err != nil {
		return Options{}, err
	}
	return o, o.Validate()
}

// TestParseIPVSADMForms: the ways ipvsadm users type a listing, as the
// real ipvsadm 1.31 accepts them (each form checked with ipvsadm in the
// lab), give the options of the spelled-out form.
func TestParseIPVSADMForms(t *testing.T) {
	opts := func(mod func(*Options)) Options {
		o := Options{RunDir: "/run/ipvsd"}
		mod(&o)
		return o
	}
	numeric := opts(func(o *Options) { o.Numeric = true })
	conns := opts(func(o *Options) { o.Numeric, o.Connections = true, true })
	web := opts(func(o *Options) {
		o.Numeric, o.Service = true, &Selector{Protocol: ipvs.TCP, Address: "10.0.0.1:80"}
	})
	mark := func(v6 bool) Options {
		return opts(func(o *Options) { o.Numeric, o.Service = true, &Selector{FWMark: "1", IPv6: v6} })
	}
	for _, tc := range []struct {
		args string
		want Options
	}{
		{"-n", numeric},
		{"-Ln", numeric},
		{"-L -n", numeric},
		{"--list --numeric", numeric},
		{"-l -n", numeric},
		{"-Ln --", numeric},
		{"-Ln --sort", numeric},
		{"-Lnc", conns},
		{"-lnc", conns},
		{"-Lcn", conns},
		{"-L -nc", conns},
		{"-Lnt 10.0.0.1:80", web},
		{"-Lt10.0.0.1:80 -n", web},
		{"-Ln -t10.0.0.1:80", web},
		{"--list -n --tcp-service=10.0.0.1:80", web},
		{"-Lnf1", mark(false)},
		{"-Lnf 1 -6", mark(true)},
		{"-LnX", opts(func(o *Options) { o.Numeric, o.Exact = true, true })},
		{"-L --exact -n", opts(func(o *Options) { o.Numeric, o.Exact = true, true })},
		{"-Ln --stats", opts(func(o *Options) { o.Numeric, o.Stats = true, true })},
		{"-Ln --nosort", opts(func(o *Options) { o.Numeric, o.NoSort = true, true })},
		{"-L --persistent-conn -c", opts(func(o *Options) { o.Connections, o.PersistentConn = true, true })},
	} {
		got, err := parse(strings.Fields(tc.args))
		if err != nil {
			t.Errorf("%s: %v", tc.args, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.args, diff)
		}
	}
}

// TestParseRejects: what ipvsadm refuses is refused, with the culprit.
func TestParseRejects(t *testing.T) {
	for args, want := range map[string]string{
		"-Ln foo":                   "unexpected argument foo",
		"-L -":                      "unexpected argument -",
		"-Lnx":                      "'x'",
		"-L --nu":                   "--nu",
		"-Ln -t":                    "-t",
		"-Ln -6":                    "-6 used before -f",
		"-Ln -c --stats":            "options conflicts in the list command",
		"-Lnc -t 10.0.0.1:80":       "conflicts with the 'connection' option",
		"-Ln -t 10.0.0.1:80 -u x:1": ErrMultipleServices.Error(),
		"-L -o xml":                 `unknown output format "xml"`,
	} {
		_, err := parse(strings.Fields(args))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", args, err, want)
		}
	}
	if _, err := parse([]string{"-Ln", "-t", "1.2.3.4:80", "-f", "1"}); !errors.Is(err, ErrMultipleServices) {
		t.Errorf("two services: %v", err)
	}
}
