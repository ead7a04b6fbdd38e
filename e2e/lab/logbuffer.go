package lab

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// LogBuffer collects a daemon's output (it is the daemon's Stdout and
// Stderr) for a guest test's assertions and failure messages; with Echo
// set it also copies everything there as it arrives (os.Stderr, to see
// the log on the console). Safe for concurrent use.
type LogBuffer struct {
	Echo io.Writer

	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Echo != nil {
		_, _ = b.Echo.Write(p)
	}
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail is the last n lines.
func (b *LogBuffer) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
