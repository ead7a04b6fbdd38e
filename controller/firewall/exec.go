package firewall

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// run executes one command with stdin, returning its stdout. A failure
// wraps the *exec.ExitError (so callers can errors.As it) and quotes the
// tool's stderr, which is where iptables-restore and ipset say which line
// they refused.
func run(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	return runSized(ctx, stdin, 0, name, args...)
}

// runSized is run with room made for size bytes of stdout. An ipset save
// at 10,000 Services is megabytes, and the periodic repair reads one: the
// output grown as it came, then copied into a string, was three times its
// size in garbage. A Builder's String is its bytes, not a copy.
func runSized(ctx context.Context, stdin string, size int, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout strings.Builder
	stdout.Grow(size)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
