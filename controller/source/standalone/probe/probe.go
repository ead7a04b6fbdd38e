package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
)

// Dialer opens connections; *net.Dialer satisfies it, and tests pass one
// that reaches a server in a namespace or a fake.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Prober runs one check of one backend. A nil error means healthy; the
// error says why not, and is logged with the transition it causes.
type Prober interface {
	Probe(ctx context.Context, t Target) error
}

// NetProber checks backends over the network.
type NetProber struct {
	Dialer Dialer
}

// ErrStatus is wrapped by the error of an HTTP check that got an
// unexpected status.
var ErrStatus = errors.New("unexpected HTTP status")

// Probe connects (tcp) or sends one GET (http, https) to the backend,
// bounded by ctx; the caller applies the check's timeout.
func (p NetProber) Probe(ctx context.Context, t Target) error {
	addr := t.checkAddr()
	switch t.Spec.Type {
	case TypeTCP:
		c, err := p.Dialer.DialContext(ctx, "tcp", addr.String())
		if err != nil {
			return err
		}
		return c.Close()
	case TypeHTTP, TypeHTTPS:
		return p.probeHTTP(ctx, t, addr)
	}
	return fmt.Errorf("unknown check type %q", t.Spec.Type)
}

func (p NetProber) probeHTTP(ctx context.Context, t Target, addr netip.AddrPort) error {
	tr := &http.Transport{
		DialContext:       p.Dialer.DialContext,
		DisableKeepAlives: true,
		// A backend addressed by IP rarely has a certificate for it: the
		// check asks whether the backend answers, not who it is.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: t.Spec.Host}, //nolint:gosec // see above
		Proxy:           nil,                                                            // never send a health check through $HTTPS_PROXY
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		// A redirect is an answer: expectStatus decides whether it is a
		// healthy one; following it would check another server.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	scheme := "http"
	if t.Spec.Type == TypeHTTPS {
		scheme = "https"
	}
	host := addr.Addr().String()
	if addr.Addr().Is6() {
		host = "[" + host + "]"
	}
	url := scheme + "://" + host + ":" + strconv.Itoa(int(addr.Port())) + t.Spec.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if t.Spec.Host != "" {
		req.Host = t.Spec.Host
	}
	req.Header.Set("User-Agent", "ipvsd-healthcheck")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	// Read a little of the body so the server is not reset mid-write, which
	// some log as an error on every check.
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	resp.Body.Close()
	want := t.Spec.ExpectStatus
	if len(want) == 0 {
		want = []int{http.StatusOK}
	}
	if !slices.Contains(want, resp.StatusCode) {
		return fmt.Errorf("GET %s: status %d, want %v: %w", t.Spec.Path, resp.StatusCode, want, ErrStatus)
	}
	return nil
}
