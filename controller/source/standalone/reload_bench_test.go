package standalone

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// flowConfig is n services of b backends in flow style, one a line, as
// the lab's profile generator writes them; s0's first backend has weight w.
func flowConfig(n, b, w int) string {
	var s strings.Builder
	s.WriteString("interface: ipvs0\nservices:\n")
	for i := range n {
		v := i / 10
		fmt.Fprintf(&s, "- {name: s%d, vip: 10.96.%d.%d, port: %d, scheduler: rr, backends: [", i, v/250, v%250+1, 8000+i%10)
		for j := range b {
			weight := 1
			if i == 0 && j == 0 {
				weight = w
			}
			if j > 0 {
				s.WriteString(", ")
			}
			fmt.Fprintf(&s, "{address: 10.100.%d.%d, weight: %d}", j, i%250+1, weight)
		}
		s.WriteString("]}\n")
	}
	return s.String()
}

// BenchmarkReloadOneWeight is a one-weight reload of 10,000 services and
// the sync that programs it, against the fake kernel.
func BenchmarkReloadOneWeight(b *testing.B) {
	files := []string{flowConfig(10000, 10, 1), flowConfig(10000, 10, 2)}
	td := newTestDaemon(b, files[0])
	if _, err := td.sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	i := 1
	for b.Loop() {
		if err := td.ReloadContent("bench", []byte(files[i%2])); err != nil {
			b.Fatal(err)
		}
		if _, err := td.sync(context.Background()); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
