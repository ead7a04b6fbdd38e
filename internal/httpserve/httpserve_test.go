package httpserve

import (
	"context"
	"io"
	"net/http"
	"testing"
)

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, wait, err := Serve(ctx, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	if err != nil {
		t.Fatal(err)
	}
	// The port is taken from the moment Serve returns.
	if _, _, err := Serve(ctx, addr.String(), http.NotFoundHandler()); err == nil {
		t.Error("a second Serve on a busy port succeeded")
	}
	resp, err := http.Get("http://" + addr.String())
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "ok" {
		t.Errorf("got %q, %v; want ok", body, err)
	}

	cancel()
	if err := wait(); err != nil {
		t.Errorf("wait: %v", err)
	}
	if _, err := http.Get("http://" + addr.String()); err == nil {
		t.Error("still serving after wait returned")
	}
}
