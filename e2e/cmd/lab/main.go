package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

//go:embed demo.sh
var demoScript string

//go:embed profile-standalone.sh
var profileStandaloneScript string

func main() {
	os.Exit(run())
}

func run() int {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: lab demo | lab bench | lab profile-standalone DIR | lab shell 'COMMANDS'")
		return 2
	}
	var cfg lab.Config
	var out io.Writer = os.Stdout
	var profiles *lab.ProfileSplitter
	switch os.Args[1] {
	case "demo":
		cfg.Script = demoScript
		root, err := lab.RepoRoot()
		if err != nil {
			fmt.Fprintf(os.Stderr, "lab: %v\n", err)
			return 1
		}
		cfg.Files = append(cfg.Files, lab.File{GuestPath: "/etc/ipvsd/standalone.yaml", HostPath: filepath.Join(root, "examples", "standalone.yaml")})
	case "bench":
		bins, err := lab.BuildTestBinaries([]string{"./e2e/guest/bench"}, "-test.v=false", "-test.timeout=20m")
		if err != nil {
			fmt.Fprintf(os.Stderr, "lab: %v\n", err)
			return 1
		}
		cfg.Run = bins
		cfg.MemoryMB = 4096
	case "profile-standalone":
		if len(os.Args) < 3 {
			fmt.Fprintln(os.Stderr, "usage: lab profile-standalone DIR")
			return 2
		}
		var err error
		if cfg, profiles, err = profileConfig(os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "lab: %v\n", err)
			return 1
		}
		out = profiles
	case "shell":
		if len(os.Args) < 3 {
			fmt.Fprintln(os.Stderr, "usage: lab shell 'COMMANDS'")
			return 2
		}
		cfg.Script = os.Args[2]
	default:
		fmt.Fprintf(os.Stderr, "lab: unknown command %q\n", os.Args[1])
		return 2
	}
	// LAB_BINS ships extra host binaries (colon-separated) to /lab/bin.
	for _, p := range strings.Split(os.Getenv("LAB_BINS"), ":") {
		if p != "" {
			cfg.Run = append(cfg.Run, lab.Binary{Name: filepath.Base(p), HostPath: p})
		}
	}
	if p := os.Getenv("IPVSD_BIN"); p != "" {
		cfg.Tools = append(cfg.Tools, lab.Binary{Name: "ipvsd", HostPath: p})
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Minute
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintln(os.Stderr, "lab: preparing the kernel lab (first run downloads Debian's kernel and builds an initramfs)")
	res, err := lab.Boot(ctx, cfg, out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		return 1
	}
	if profiles != nil {
		if profiles.Err() != nil {
			fmt.Fprintf(os.Stderr, "lab: %v\n", profiles.Err())
			return 1
		}
		fmt.Fprintf(os.Stderr, "lab: %d profiles in %s (go tool pprof -top %s/cold-cpu-*.pprof)\n", len(profiles.Written()), os.Args[2], os.Args[2])
	}
	fmt.Fprintf(os.Stderr, "lab: guest exited %d after %s\n", res.ExitCode, res.Wall.Round(time.Millisecond))
	return res.ExitCode
}

// profileConfig is the VM run of profile-standalone.sh, writing profiles
// to dir. PROFILE_SERVICES, PROFILE_BACKENDS, PROFILE_WINDOW and
// PROFILE_MAX_WINDOWS size the run; PROFILE_MODE=reload times reloads at
// PROFILE_RELOAD_SIZES, PROFILE_RELOADS each, instead (see the script).
// A cold start of 10,000 services and its reloads take most of an hour
// under emulation on a loaded host.
func profileConfig(dir string) (lab.Config, *lab.ProfileSplitter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return lab.Config{}, nil, err
	}
	cfg := lab.Config{Script: profileStandaloneScript, MemoryMB: 4096, Env: map[string]string{}, Timeout: time.Hour}
	for _, k := range []string{"PROFILE_SERVICES", "PROFILE_BACKENDS", "PROFILE_WINDOW", "PROFILE_MAX_WINDOWS",
		"PROFILE_MODE", "PROFILE_RELOAD_SIZES", "PROFILE_RELOADS"} {
		if v := os.Getenv(k); v != "" {
			cfg.Env[k] = v
		}
	}
	return cfg, lab.NewProfileSplitter(dir, os.Stdout), nil
}
