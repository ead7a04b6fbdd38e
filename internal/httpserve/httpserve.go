package httpserve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve listens on addr at once, so a busy port fails the start-up instead
// of a later log line, and serves h in the background. It returns the
// address bound (addr may ask for port 0) and wait, which blocks until ctx
// is done, then shuts the server down (open requests get 5 seconds) and
// returns once it has stopped.
func Serve(ctx context.Context, addr string, h http.Handler) (bound net.Addr, wait func() error, err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	return l.Addr(), func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		serr := srv.Shutdown(sctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			return errors.Join(err, serr)
		}
		return serr
	}, nil
}
