package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipvsd/ipvsd/cmd/ipvsd/app"
)

func main() {
	os.Exit(run())
}

func run() int {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, stop := stopOnSignals(context.Background(), sigs, os.Stderr, os.Exit)
	defer stop()
	return app.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// stopOnSignals returns a context that the first signal on sigs cancels,
// which starts a clean stop. A second signal exits at once with
// forcedExitCode: a step that cannot honour the context (a read of a FIFO
// given as --config blocks in the kernel until a writer comes) would
// otherwise leave SIGKILL as the only way out. Each signal is announced on
// stderr in one line, since a process blocked before its loop has logged
// nothing that says it heard. stop releases the watcher.
func stopOnSignals(parent context.Context, sigs <-chan os.Signal, stderr io.Writer, exit func(int)) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "ipvsd: %v: stopping (a second signal forces exit)\n", s)
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "ipvsd: %v again: exiting at once, without a clean stop\n", s)
			exit(forcedExitCode(s))
		case <-done:
		}
	}()
	return ctx, func() { close(done); cancel() }
}

// forcedExitCode is the shell's status for a process killed by s (128+n),
// so scripts and service managers see the stop was not clean.
func forcedExitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}
