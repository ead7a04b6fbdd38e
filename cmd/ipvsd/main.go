package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipvsd/ipvsd/cmd/ipvsd/app"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
