//go:build lab

package kube

import (
	"context"
	"net"
	"regexp"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

func listFor(name string) metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()}
}

// endpointChurn: an endpoint removed from the EndpointSlice drains: its
// real server stays at weight 0 while a connection to it is open, that
// connection keeps working, and new connections go to the others.
func (e *env) endpointChurn(t *testing.T) {
	svc := e.service(t, "churn", nil, local(e.n.be1), remote(e.n.be2))
	vip := hostPort(svc.Spec.ClusterIP, echoPort)
	e.programmed(t, vip, 2)

	// rr alternates, so one of a few connections lands on be2.
	var held net.Conn
	for i := 0; i < 6 && held == nil; i++ {
		greet, c, err := e.n.pod.TCPHello(vip, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if greet == "be2" {
			held = c
			continue
		}
		c.Close()
	}
	if held == nil {
		t.Fatalf("no connection to %s reached be2:\n%s", vip, ipvsadm(t))
	}
	defer held.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := apiserver.UpdateEndpoints(ctx, e.c, testNS, "churn-1", []apiserver.Endpoint{local(e.n.be1)}); err != nil {
		t.Fatal(err)
	}
	drained := regexp.MustCompile(`-> ` + regexp.QuoteMeta(e.n.be2.Addr.String()) + `:\d+\s+\w+\s+0\s`)
	guestutil.Eventually(t, 60*time.Second, func() string {
		if block := virtualServer(t, "TCP", vip); !drained.MatchString(block) {
			return "be2 is not draining (weight 0):\n" + block
		}
		return ""
	})
	if err := nettest.Echo(held, "still here", 5*time.Second); err != nil {
		t.Errorf("the connection to the draining be2 broke: %v", err)
	}
	for range 4 {
		greet, c, err := e.n.pod.TCPHello(vip, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if greet != "be1" {
			t.Errorf("a new connection reached %s, which is draining", greet)
		}
	}
}

// apiServerRestart: while the API server is away (the host stops it on
// request) the programmed state stays and carries traffic; once it is back
// ipvsd's watches resume and a change made after the restart is
// programmed.
func (e *env) apiServerRestart(t *testing.T) {
	svc := e.service(t, "restart", nil, local(e.n.be1))
	vip := hostPort(svc.Spec.ClusterIP, 80)
	e.programmed(t, vip, 1)

	apiserver.RequestHostAction(apiserver.ActionStopAPIServer)
	guestutil.Eventually(t, 60*time.Second, func() string {
		if apiReady(e.c) {
			return "the API server still answers after the stop request"
		}
		return ""
	})
	// Long enough for ipvsd's watches to fail and retry a few times.
	time.Sleep(5 * time.Second)
	e.programmed(t, vip, 1)
	if seen := backendsSeen(t, e.n.pod.NS, vip, 4, ""); seen["be1"] != 4 {
		t.Errorf("without the API server: backends %v, want be1 only", seen)
	}

	apiserver.RequestHostAction(apiserver.ActionStartAPIServer)
	guestutil.Eventually(t, 90*time.Second, func() string {
		if !apiReady(e.c) {
			return "the API server did not come back"
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := apiserver.UpdateEndpoints(ctx, e.c, testNS, "restart-1", []apiserver.Endpoint{local(e.n.be1), remote(e.n.be2)}); err != nil {
		t.Fatal(err)
	}
	e.programmed(t, vip, 2)
	if seen := backendsSeen(t, e.n.pod.NS, vip, 6, ""); len(seen) != 2 {
		t.Errorf("after the restart: backends %v, want both", seen)
	}
}
