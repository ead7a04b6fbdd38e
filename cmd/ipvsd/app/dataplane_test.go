package app

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
)

// TestServeAllStopsWhatStartedOnError: when a later endpoint cannot
// listen, serveAll stops the ones it already started and returns the
// error naming the address, without the caller having to cancel anything
// first (it used to wait for the caller's context).
func TestServeAllStopsWhatStartedOnError(t *testing.T) {
	h := map[string]http.Handler{"/": http.NotFoundHandler()}
	stop, err := serveAll(context.Background(), zaptest.NewLogger(t), []endpoint{
		{"127.0.0.1:0", h},
		{"", h}, // off
		{"256.0.0.1:1", h},
	})
	if err == nil || stop != nil || !strings.Contains(err.Error(), "256.0.0.1:1") {
		t.Fatalf("serveAll: stop %v, err %v; want no stop and an error naming 256.0.0.1:1", stop != nil, err)
	}
	stop, err = serveAll(context.Background(), zaptest.NewLogger(t), []endpoint{{"127.0.0.1:0", h}})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}
