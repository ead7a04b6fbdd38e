package config

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// base is a valid file; cases append a service to it, or replace it.
const base = `
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    backends:
      - address: 10.0.0.2
        port: 8080
`

func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"valid", base, nil},
		{"example file", "", nil}, // replaced by examples/standalone.yaml below
		{"decoding error", "services: [", []string{"YAML: yaml: line 1: did not find expected node content"}},
		{"unknown field", "services:\n- name: a\n  vip: 192.0.2.1\n  port: 1\n  wieght: 3\n  backends: [{address: 10.0.0.1}]\n",
			[]string{`unknown field "services[a].wieght"`}},
		{"top level", "interface: a-very-long-interface-name\nmasquerade: some\nservices: []\n", []string{
			`interface: "a-very-long-interface-name" is not a Linux interface name (1-15 bytes, not . or .., no /, : or whitespace)`,
			`masquerade: must be all or local, not "some"`,
		}},
		{"no name, no vip", "services:\n- port: 80\n  backends: [{address: 10.0.0.1}]\n", []string{
			"services[0].name: is required",
			"services[0].vip: is required (or fwmark)",
		}},
		{"bad key fields", `
services:
  - name: web
    vip: 300.1.1.1
    port: 70000
    protocol: icmp
    family: ipv4
    scheduler: fastest
    schedulerFlags: [sh-port, bogus]
    persistence: 5 minutes
    persistenceNetmask: 40
    forwarding: carrier-pigeon
    drain: soon
    backends: []
`, []string{
			"services[web].family: applies to fwmark services only (a VIP has its own family)",
			`services[web].vip: "300.1.1.1" is not an IP address`,
			"services[web].port: must be 1-65535",
			`services[web].protocol: must be tcp, udp or sctp, not "icmp"`,
			`services[web].scheduler: unknown scheduler "fastest" (want one of [rr wrr lc wlc lblc lblcr dh sh sed nq mh fo ovf twos])`,
			"services[web].schedulerFlags[0]: sh-port applies to the sh scheduler only",
			`services[web].schedulerFlags[1]: unknown flag "bogus"`,
			`services[web].persistence: "5 minutes" is not a duration like 2s or 1m30s`,
			"services[web].persistenceNetmask: must be a prefix length 1-32",
			`services[web].forwarding: must be nat, dr or tun, not "carrier-pigeon"`,
			`services[web].drain: "soon" is not a duration like 2s or 1m30s`,
			"services[web].backends: at least one backend (or a sorryServer) is required",
		}},
		{"multicast vip, netmask without persistence", `
services:
  - name: m
    vip: 224.0.0.1
    port: 80
    persistenceNetmask: 24
    persistence: 500ms
    backends: [{address: 10.0.0.1}]
`, []string{
			"services[m].vip: 224.0.0.1 is not a unicast address",
			"services[m].persistence: must be 1s or more",
		}},
		{"fwmark", `
services:
  - name: fw
    fwmark: 42
    port: 80
    family: ipv5
    backends: [{address: 10.0.0.1}]
  - name: fw2
    fwmark: 5000000000
    backends: [{address: 10.0.0.1}]
  - name: fw3
    fwmark: 7
    family: ipv6
    backends: [{address: "2001:db8::1"}, {address: 10.0.0.1}]
`, []string{
			"services[fw]: a fwmark service has no vip, port or protocol",
			`services[fw].family: must be ipv4 or ipv6, not "ipv5"`,
			"services[fw2].fwmark: must be 1-4294967295",
			"services[fw3].backends[1].address: 10.0.0.1 is not IPv6 like the service",
		}},
		{"backends", `
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    forwarding: dr
    backends:
      - {address: 10.0.0.1}
      - {address: 10.0.0.1, port: 80}
      - {address: "2001:db8::1"}
      - {address: nope, port: -1}
      - {address: 10.0.0.3, port: 8080}
      - {address: 10.0.0.4, weight: -1, forwarding: teleport}
      - {address: 10.0.0.5, upperThreshold: 5, lowerThreshold: 9}
      - {address: 10.0.0.6, upperThreshold: -1}
      - {port: 80}
      - {address: "fe80::1%eth0"}
      - {address: 0.0.0.0}
`, []string{
			"services[web].backends[1]: 10.0.0.1:80 duplicates backends[0]",
			"services[web].backends[2].address: 2001:db8::1 is not IPv4 like the service",
			`services[web].backends[3].address: "nope" is not an IP address`,
			"services[web].backends[3].port: must be 1-65535",
			"services[web].backends[4].port: must equal the service port (80) with dr forwarding",
			"services[web].backends[5].weight: must be 0-2147483647",
			`services[web].backends[5].forwarding: must be nat, dr or tun, not "teleport"`,
			"services[web].backends[6].lowerThreshold: must not exceed upperThreshold",
			"services[web].backends[7].upperThreshold: must be 0-4294967295",
			"services[web].backends[8].address: is required",
			`services[web].backends[9].address: "fe80::1%eth0" is not an IP address`,
			"services[web].backends[10].address: 0.0.0.0 is not a unicast address",
		}},
		{"health check", `
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    quorum: 3
    healthCheck:
      type: http
      path: healthz
      expectStatus: [200, 700]
      port: 70000
      interval: 50ms
      timeout: 1s
      rise: -1
      fall: -2
      onFailure: panic
    backends: [{address: 10.0.0.1}]
  - name: tcp
    vip: 192.0.2.10
    port: 81
    sorryServer: {address: 10.0.0.1, port: 81}
    healthCheck: {type: tcp, path: /x, interval: 1s, timeout: 2s}
    backends: [{address: 10.0.0.1}]
  - name: none
    vip: 192.0.2.10
    port: 82
    quorum: 1
    healthCheck: {type: icmp}
    backends: [{address: 10.0.0.1}]
  - name: nocheck
    vip: 192.0.2.10
    port: 83
    sorryServer: {address: 10.0.0.9}
    backends: [{address: 10.0.0.1}]
`, []string{
			"services[web].quorum: must be 0-1 (the number of backends)",
			"services[web].healthCheck.path: must start with /",
			"services[web].healthCheck.expectStatus[1]: must be an HTTP status 100-599",
			"services[web].healthCheck.port: must be 1-65535",
			"services[web].healthCheck.interval: must be at least 100ms",
			"services[web].healthCheck.rise: must be at least 1",
			"services[web].healthCheck.fall: must be at least 1",
			`services[web].healthCheck.onFailure: must be quiesce or remove, not "panic"`,
			"services[tcp].sorryServer: must not also be a backend",
			"services[tcp].healthCheck: path, host and expectStatus apply to http and https checks only",
			"services[tcp].healthCheck.timeout: must not exceed the interval (1s)",
			`services[none].healthCheck.type: must be tcp, http or https, not "icmp"`,
			"services[nocheck].healthCheck: is required with a quorum or a sorryServer (without checks every backend is up)",
		}},
		{"across services", `
services:
  - name: web
    vip: 192.0.2.10
    port: 80
    backends: [{address: 10.0.0.1}]
  - name: web
    vip: 192.0.2.10
    port: 80
    backends: [{address: 10.0.0.2}]
  - name: dr
    vip: 192.0.2.10
    port: 443
    forwarding: dr
    backends: [{address: 10.0.0.2}]
  - name: mixed
    vip: 192.0.2.11
    port: 443
    backends: [{address: 10.0.0.2, forwarding: tun}, {address: 10.0.0.3}]
`, []string{
			"services[web].name: duplicate of services[0]",
			"services[web]: same virtual server (TCP 192.0.2.10:80) as services[web]",
			"services[dr].vip: 192.0.2.10 is used by NAT service web and DR/TUN service dr; give them separate VIPs",
			"services[mixed].backends: mixes nat with dr or tun forwarding: NAT needs masquerading that would break DR and TUN replies",
		}},
	}
	example, err := os.ReadFile("../../../../examples/standalone.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.yaml
			if tc.name == "example file" {
				src = string(example)
			}
			_, err := Parse([]byte(src))
			if diff := cmp.Diff(tc.want, errLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(base + `
  - name: checked
    vip: "2001:db8::10"
    port: 443
    drain: 0s
    healthCheck: {type: https}
    backends: [{address: "2001:db8::2"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Interface != "ipvs0" || c.Masquerade != MasqueradeAll {
		t.Errorf("top-level defaults: %+v", c)
	}
	web, checked := c.Services[0], c.Services[1]
	if web.Protocol != "tcp" || web.Scheduler != "wrr" || web.Forwarding != "nat" || *web.Backends[0].Weight != 1 {
		t.Errorf("service defaults: %+v", web)
	}
	if web.DrainTimeout() != 0 || checked.DrainTimeout() >= 0 {
		t.Errorf("drain: unset %v (want 0, the reconciler's default), 0s %v (want negative: at once)", web.DrainTimeout(), checked.DrainTimeout())
	}
	hc := checked.HealthCheck
	want := HealthCheck{Type: "https", Path: "/", ExpectStatus: []int{200}, Interval: "2s", Timeout: "1s", Rise: 2, Fall: 3, OnFailure: "quiesce"}
	want.parsed = parsedCheck{interval: 2e9, timeout: 1e9}
	if diff := cmp.Diff(want, *hc, cmp.AllowUnexported(HealthCheck{}, parsedCheck{})); diff != "" {
		t.Errorf("health check defaults (-want +got):\n%s", diff)
	}
	if got := checked.Backends[0].AddrPort().String(); got != "[2001:db8::2]:443" {
		t.Errorf("backend port defaults to the service's: %s", got)
	}
}
