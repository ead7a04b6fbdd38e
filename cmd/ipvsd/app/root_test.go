package app

import (
	"fmt"

	"github.com/spf13/cobra"

	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/cmd/ipvsd/app/listcmd"
)

// The version command and the --version and -v flags print the same line.
func TestVersion(t *testing.T) {
	want := "ipvsd " + versionString() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		var out, errOut bytes.Buffer
		if code := Execute(context.Background(), args, &out, &errOut); code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, errOut.String())
		}
		if got := out.String(); got != want || !strings.HasPrefix(got, "ipvsd dev") {
			t.Errorf("%v printed %q, want %q", args, got, want)
		}
	}
}

func TestHelpListsCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Execute(context.Background(), []string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"Usage:", "ipvsd [command]", "version"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUnknownCommandFails(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Execute(context.Background(), []string{"frobnicate"}, &out, &errOut); code == 0 {
		t.Fatal("unknown command exited 0")
	}
	if !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("stderr %q", errOut.String())
	}
}

// A missing service is reported bare, as ipvsadm does.
func TestNoSuchServiceIsBare(t *testing.T) {
	var out bytes.Buffer
	root := newRoot(&out, &bytes.Buffer{})
	root.AddCommand(&cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error {
		return fmt.Errorf("looking up TCP 10.0.0.1:80: %w", listcmd.ErrNoSuchService)
	}})
	var errOut bytes.Buffer
	code := executeRoot(context.Background(), root, []string{"fail"}, &errOut)
	if code != 1 || errOut.String() != "looking up TCP 10.0.0.1:80: No such service\n" || out.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

// A stop asked for while starting up (the context cancelled by SIGTERM)
// exits 0 and says what was cut short; the same error without a stop
// asked for is a failure.
func TestRequestedStopIsClean(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stopped  bool
		wantCode int
		wantErr  string
	}{
		{"stopped", true, 0, "ipvsd: stopped: waiting for informers to sync: context canceled\n"},
		{"not stopped", false, 1, "ipvsd: waiting for informers to sync: context canceled\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.stopped {
				cancel()
			}
			root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
			root.AddCommand(&cobra.Command{Use: "wait", RunE: func(*cobra.Command, []string) error {
				return fmt.Errorf("waiting for informers to sync: %w", context.Canceled)
			}})
			var errOut bytes.Buffer
			if code := executeRoot(ctx, root, []string{"wait"}, &errOut); code != tc.wantCode || errOut.String() != tc.wantErr {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, errOut.String(), tc.wantCode, tc.wantErr)
			}
		})
	}
}
