package nettest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Dial opens a connection from inside the namespace. The socket stays in
// the namespace for its whole life, whichever thread later uses it.
func (ns *NS) Dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dialing %s %s from %s: %w", network, addr, ns.Name, err)
	}
	return c, nil
}

// HTTPClient returns a client whose connections start in the namespace. Keep
// alives are off: every request is a new connection, so every request is a
// new scheduling decision for IPVS.
func (ns *NS) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return ns.Dial(network, addr, timeout)
			},
		},
	}
}

// HTTPGet fetches url from inside the namespace and returns the body.
func (ns *NS) HTTPGet(url string, timeout time.Duration) (string, error) {
	resp, err := ns.HTTPClient(timeout).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := readAllLimited(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// UDPExchange sends payload to addr from inside the namespace and returns
// the first reply. Each call uses a fresh socket (a fresh source port), so
// each call is a new IPVS connection.
func (ns *NS) UDPExchange(addr, payload string, timeout time.Duration) (string, error) {
	c, err := ns.Dial("udp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(payload)); err != nil {
		return "", err
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return "", fmt.Errorf("udp reply from %s: %w", addr, err)
	}
	return string(buf[:n]), nil
}

// TCPHello connects to a ServeTCP server and returns its greeting line and
// the open connection (the caller closes it).
func (ns *NS) TCPHello(addr string, timeout time.Duration) (string, net.Conn, error) {
	c, err := ns.Dial("tcp", addr, timeout)
	if err != nil {
		return "", nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return "", nil, fmt.Errorf("greeting from %s: %w", addr, err)
	}
	return strings.TrimSpace(line), c, nil
}

// Echo sends msg as a line on a connection to a ServeTCP server and
// requires the same line back within timeout.
func Echo(c net.Conn, msg string, timeout time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return fmt.Errorf("echo: writing %q: %w", msg, err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("echo of %q: %w", msg, err)
	}
	if strings.TrimSpace(got) != msg {
		return fmt.Errorf("echo of %q: got %q", msg, got)
	}
	return nil
}
