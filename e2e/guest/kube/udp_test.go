//go:build lab

package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
)

const udpPort = 5300 // backends' UDP "who are you" server

// udpEndpointChange: a UDP client keeps one socket, so every datagram has
// the same 5-tuple, and both the IPVS connection and the conntrack entry
// of the first one (refreshed by each datagram; UDP has no close to end
// them) keep steering it to the old backend. When the only endpoint
// changes, the same socket must reach the new one. Deleting the real
// server does it: with net.ipv4.vs.expire_nodest_conn=1, which ipvsd sets,
// the kernel expires the connections to it and their conntrack entries,
// and ipvsd deletes the UDP conntrack entries as well. With the sysctl at
// 0 the flow is blackholed (an old IPVS connection is not rescheduled even
// once its conntrack entry is gone), so it is checked too.
func (e *env) udpEndpointChange(t *testing.T) {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/vs/expire_nodest_conn"); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Errorf("net.ipv4.vs.expire_nodest_conn is %q (%v), want 1 as ipvsd sets it", b, err)
	}
	e.n.be1.ServeUDP(t, udpPort, "be1")
	e.n.be2.ServeUDP(t, udpPort, "be2")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := apiserver.CreateService(ctx, e.c, apiserver.NewService(testNS, "udp", apiserver.UDPPort("dns", udpPort, udpPort)))
	if err != nil {
		t.Fatal(err)
	}
	slice := apiserver.NewEndpointSlice(svc, "udp-1", []apiserver.Endpoint{local(e.n.be1)}, apiserver.SliceUDPPort("dns", udpPort))
	if _, err := apiserver.CreateEndpointSlice(ctx, e.c, slice); err != nil {
		t.Fatal(err)
	}
	vip := hostPort(svc.Spec.ClusterIP, udpPort)
	e.programmedProto(t, "UDP", vip, 1)

	c, err := e.n.pod.Dial("udp", vip, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Several round trips make the flow a replied (assured) one, the kind
	// conntrack keeps longest.
	for i := range 5 {
		got, err := udpAsk(c, 2*time.Second)
		if err != nil || got != "be1" {
			t.Fatalf("datagram %d to %s: answer %q, %v; want be1\n%s", i, vip, got, err, ipvsadm(t))
		}
	}

	if _, err := apiserver.UpdateEndpoints(ctx, e.c, testNS, "udp-1", []apiserver.Endpoint{remote(e.n.be2)}); err != nil {
		t.Fatal(err)
	}
	guestutil.Eventually(t, 60*time.Second, func() string {
		e.d.check(t)
		block := virtualServer(t, "UDP", vip)
		if strings.Count(block, "->") != 1 || !strings.Contains(block, e.n.be2.Addr.String()+":") {
			return "UDP real server not switched to be2:\n" + block
		}
		return ""
	})
	// Without the cleanup the old entry, refreshed by every datagram sent
	// here, would hold the flow on be1 (which still answers) indefinitely.
	start := time.Now()
	var answers []string
	guestutil.Eventually(t, 10*time.Second, func() string {
		got, err := udpAsk(c, 500*time.Millisecond)
		if got == "be2" {
			return ""
		}
		if err != nil {
			got = err.Error()
		}
		answers = append(answers, got)
		return fmt.Sprintf("the same socket is still not answered by be2; answers since the switch: %v\n%s", answers, ipvsadm(t))
	})
	t.Logf("same socket reached be2 %s after the switch was programmed (%d datagrams unanswered or answered by be1 before)",
		time.Since(start).Round(time.Millisecond), len(answers))
}

// udpAsk sends one datagram on c and returns the answer. A lost datagram
// is a timeout; an ICMP error from an earlier one surfaces here as
// ECONNREFUSED on the connected socket, and is reported the same way.
func udpAsk(c net.Conn, timeout time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("who")); err != nil {
		return "", fmt.Errorf("sending: %w", err)
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "", fmt.Errorf("no answer within %s: %w", timeout, err)
	}
	if err != nil {
		return "", fmt.Errorf("reading: %w", err)
	}
	return string(buf[:n]), nil
}
