package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestServeAllStopsWhatStartedOnError: when a later endpoint cannot
// listen, serveAll stops the ones it already started and returns the
// error naming the address, without the caller having to cancel anything
// first (it used to wait for the caller's context).
func TestServeAllStopsWhatStartedOnError(t *testing.T) {
	h := map[string]http.Handler{"/": http.NotFoundHandler()}
	stop, err := serveAll(context.Background(), zaptest.NewLogger(t), []endpoint{
		{addr: "127.0.0.1:0", routes: h},
		{addr: "", routes: h}, // off
		{addr: "256.0.0.1:1", routes: h},
	})
	if err == nil || stop != nil || !strings.Contains(err.Error(), "256.0.0.1:1") {
		t.Fatalf("serveAll: stop %v, err %v; want no stop and an error naming 256.0.0.1:1", stop != nil, err)
	}
	stop, err = serveAll(context.Background(), zaptest.NewLogger(t), []endpoint{{addr: "127.0.0.1:0", routes: h}})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestServeAllRetrying: an endpoint whose port is taken
// does not fail the start; it serves once the port is free.
func TestServeAllRetrying(t *testing.T) {
	retryListen = 10 * time.Millisecond
	defer func() { retryListen = 5 * time.Second }()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := busy.Addr().String()
	h := map[string]http.Handler{"/ok": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "served") })}
	stop, err := serveAllRetrying(context.Background(), zaptest.NewLogger(t), []endpoint{{addr: addr, routes: h}})
	if err != nil {
		t.Fatalf("soft endpoint failed the start: %v", err)
	}
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	if err := busy.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/ok")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) == "served" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("never served on %s once free: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
