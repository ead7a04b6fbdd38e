//go:build lab

package kube

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ipvsd/ipvsd/e2e/apiserver"
	"github.com/ipvsd/ipvsd/e2e/guestutil"
	"github.com/ipvsd/ipvsd/e2e/nettest"
)

const testNS = "e2e"

// TestIPVSDRun runs `ipvsd run` against the real API server and checks
// real traffic for each kind of Service the issue lists. One daemon and
// one network serve every subtest; each subtest owns its Service.
func TestIPVSDRun(t *testing.T) {
	admin := guestutil.Client(t, apiserver.GuestAdminKubeconfig)
	guestutil.EnsureNode(t, admin, nodeName, nodeIP, testNS)
	n := newLabNet(t)
	e := &env{t: t, c: admin, n: n, d: startIPVSD(t)}

	t.Run("ClusterIP", e.clusterIP)
	t.Run("NodePort", e.nodePort)
	t.Run("LoadBalancerLocal", e.loadBalancerLocal)
	t.Run("SessionAffinity", e.sessionAffinity)
	t.Run("SchedulerAnnotation", e.schedulerAnnotation)
	t.Run("EndpointChurnDrains", e.endpointChurn)
	t.Run("UDPEndpointChange", e.udpEndpointChange)
	t.Run("InternalTrafficPolicyLocal", e.internalTrafficLocal)
	t.Run("ExternalIPs", e.externalIPs)
	t.Run("Metrics", e.metrics)
	t.Run("KubeProxyObservability", e.kubeProxyObservability)
	t.Run("ForeignConflict", e.foreignConflict)
	t.Run("UnprogrammableObjects", e.unprogrammable)
	// Last: it takes the API server away.
	t.Run("APIServerRestart", e.apiServerRestart)
}

type env struct {
	t *testing.T
	c kubernetes.Interface
	n *labNet
	d *daemon
}

// local and remote are endpoints on this node and on another one.
func local(p *nettest.Peer) apiserver.Endpoint {
	return apiserver.Endpoint{IP: p.Addr.String(), Node: nodeName}
}

func remote(p *nettest.Peer) apiserver.Endpoint {
	return apiserver.Endpoint{IP: p.Addr.String(), Node: "other"}
}

// service creates a Service named name (port "http" 80 to the whoami, port
// "echo" 9000 to the echo server), shaped by edit, and its EndpointSlice
// name-1 with eps; it returns the Service as the API server stored it.
func (e *env) service(t *testing.T, name string, edit func(*corev1.Service), eps ...apiserver.Endpoint) *corev1.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc := apiserver.NewService(testNS, name, apiserver.TCPPort("http", 80, webPort), apiserver.TCPPort("echo", echoPort, echoPort))
	if edit != nil {
		edit(svc)
	}
	svc, err := apiserver.CreateService(ctx, e.c, svc)
	if err != nil {
		t.Fatal(err)
	}
	slice := apiserver.NewEndpointSlice(svc, name+"-1", eps, apiserver.SlicePort("http", webPort), apiserver.SlicePort("echo", echoPort))
	if _, err := apiserver.CreateEndpointSlice(ctx, e.c, slice); err != nil {
		t.Fatal(err)
	}
	return svc
}

// programmed waits until TCP vipPort has exactly dests real servers.
func (e *env) programmed(t *testing.T, vipPort string, dests int) string {
	t.Helper()
	return e.programmedProto(t, "TCP", vipPort, dests)
}

// programmedProto waits until the proto ("TCP", "UDP") virtual server
// vipPort has exactly dests real servers, and returns its block.
func (e *env) programmedProto(t *testing.T, proto, vipPort string, dests int) string {
	t.Helper()
	var block string
	guestutil.Eventually(t, 60*time.Second, func() string {
		e.d.check(t)
		block = virtualServer(t, proto, vipPort)
		if got := strings.Count(block, "->"); block == "" || got != dests {
			return fmt.Sprintf("%s %s with %d real servers not programmed:\n%s", proto, vipPort, dests, ipvsadm(t))
		}
		return ""
	})
	return block
}

func hostPort(ip string, port int32) string {
	return net.JoinHostPort(ip, strconv.Itoa(int(port)))
}

// clusterIP: a pod reaches both backends with its address intact (pod
// traffic is not masqueraded), and so does the node itself.
func (e *env) clusterIP(t *testing.T) {
	svc := e.service(t, "clusterip", nil, local(e.n.be1), remote(e.n.be2))
	vip := hostPort(svc.Spec.ClusterIP, 80)
	e.programmed(t, vip, 2)
	if seen := backendsSeen(t, e.n.pod.NS, vip, 10, e.n.pod.Addr.String()); len(seen) != 2 {
		t.Errorf("from a pod: backends %v, want both", seen)
	}
	if seen := backendsSeen(t, nil, vip, 10, ""); len(seen) != 2 {
		t.Errorf("from the node: backends %v, want both", seen)
	}
}

// nodePort: a client outside the cluster reaches both backends through the
// node's address.
func (e *env) nodePort(t *testing.T) {
	svc := e.service(t, "nodeport", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort },
		local(e.n.be1), remote(e.n.be2))
	np := hostPort(nodeIP, svc.Spec.Ports[0].NodePort)
	e.programmed(t, np, 2)
	if seen := backendsSeen(t, e.n.outside.NS, np, 10, ""); len(seen) != 2 {
		t.Errorf("from outside via %s: backends %v, want both", np, seen)
	}
}

// loadBalancerLocal: with externalTrafficPolicy Local, outside clients of
// the LB IP reach only this node's endpoint and keep their address, pods
// reaching the same IP get every endpoint, and the health check node port
// reports the one local endpoint.
func (e *env) loadBalancerLocal(t *testing.T) {
	const lbIP = "192.168.100.10"
	svc := e.service(t, "lblocal", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}, local(e.n.be1), remote(e.n.be2))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := apiserver.SetLoadBalancerIngress(ctx, e.c, svc, lbIP)
	if err != nil {
		t.Fatal(err)
	}
	lb := hostPort(lbIP, 80)
	e.programmed(t, lb, 2) // the in-cluster set; the local one is a fwmark service
	seen := backendsSeen(t, e.n.outside.NS, lb, 10, e.n.outside.Addr.String())
	if len(seen) != 1 || seen["be1"] != 10 {
		t.Errorf("from outside: backends %v, want only be1 (this node's)\n%s\n%s", seen, ipvsadm(t), firewallState(t))
	}
	if seen := backendsSeen(t, e.n.pod.NS, lb, 10, ""); len(seen) != 2 {
		t.Errorf("from a pod: backends %v, want both (in-cluster traffic)", seen)
	}
	hc := fmt.Sprintf("http://%s/", hostPort(nodeIP, svc.Spec.HealthCheckNodePort))
	guestutil.Eventually(t, 30*time.Second, func() string {
		body, err := nodeGet(hc)
		if err != nil {
			return err.Error()
		}
		if !strings.Contains(strings.ReplaceAll(body, " ", ""), `"localEndpoints":1`) {
			return "health check answer " + body
		}
		return ""
	})
}

// sessionAffinity: ClientIP affinity is a persistent virtual server, and
// one client keeps its backend.
func (e *env) sessionAffinity(t *testing.T) {
	timeout := int32(60)
	svc := e.service(t, "sticky", func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
	}, local(e.n.be1), remote(e.n.be2))
	vip := hostPort(svc.Spec.ClusterIP, 80)
	if block := e.programmed(t, vip, 2); !strings.Contains(block, "persistent 60") {
		t.Errorf("virtual server is not persistent for 60 s:\n%s", block)
	}
	if seen := backendsSeen(t, e.n.pod.NS, vip, 10, ""); len(seen) != 1 {
		t.Errorf("one client reached backends %v, want one", seen)
	}
}

// schedulerAnnotation: ipvsd.io/scheduler picks the IPVS scheduler; an
// invalid one falls back to the default with a Warning Event, and its
// service is still programmed.
func (e *env) schedulerAnnotation(t *testing.T) {
	ann := func(v string) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Annotations = map[string]string{"ipvsd.io/scheduler": v} }
	}
	good := e.service(t, "sched", ann("wlc"), local(e.n.be1), remote(e.n.be2))
	bad := e.service(t, "badsched", ann("no-such-scheduler"), local(e.n.be1))
	if block := e.programmed(t, hostPort(good.Spec.ClusterIP, 80), 2); !strings.Contains(firstLine(block), " wlc") {
		t.Errorf("annotated scheduler wlc not used:\n%s", block)
	}
	if block := e.programmed(t, hostPort(bad.Spec.ClusterIP, 80), 1); !strings.Contains(firstLine(block), " rr") {
		t.Errorf("invalid annotation: default scheduler rr not used:\n%s", block)
	}
	guestutil.Eventually(t, 30*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		evs, err := e.c.CoreV1().Events(testNS).List(ctx, listFor("badsched"))
		if err != nil {
			return err.Error()
		}
		for _, ev := range evs.Items {
			if ev.Type == corev1.EventTypeWarning && ev.Reason == "InvalidScheduler" {
				return ""
			}
		}
		return fmt.Sprintf("no Warning InvalidScheduler Event on badsched: %d events", len(evs.Items))
	})
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
