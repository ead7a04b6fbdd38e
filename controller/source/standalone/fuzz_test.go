package standalone

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ipvsd/ipvsd/controller/source/standalone/config"
	"github.com/ipvsd/ipvsd/controller/source/standalone/probe"
	"github.com/ipvsd/ipvsd/ipvs"
)

// maxErrorLine bounds one line of a rejection: paths and quoted values
// are cut short, so a hostile file cannot flood the log.
const maxErrorLine = 1024

// FuzzConfig feeds the standalone config parser and validator arbitrary
// bytes (seeds: the shipped example, the files these tests use, and the
// shapes of issue 13: empty, cut, duplicated, mistyped, multi-document).
// It must never panic, every rejection must say something in bounded
// lines, and a file it accepts must parse the same way twice and
// translate, with every backend up and with every backend down, into
// virtual servers the reconciler and the kernel accept.
func FuzzConfig(f *testing.F) {
	example, err := os.ReadFile("../../../examples/standalone.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example), twoServices, apiEdited, twoServices[:strings.Index(twoServices, "  - name: api")],
		"", " \n", "services: null\n", "services: []\n", "services: []\n---\nservices: []\n",
		"services:\n- name: a\n  vip: 192.0.2.1\n  port: 80\n  BACKENDS: [{address: 10.0.0.9}]\n  backends: [{address: 10.0.0.1}]\n",
		"services:\n- name: a\n  vip: 192.0.2.1\n  port: x\n  port: 81\n  backends: [{address: 10.0.0.1, weight: [2]}]\n",
		"services:\n- name: fw\n  fwmark: 42\n  family: ipv6\n  scheduler: sh\n  schedulerFlags: [sh-port]\n  backends: [{address: \"2001:db8::1\", port: 0, forwarding: tun}]\n",
		"interface: ipvs0\nmasquerade: local\nservices:\n- name: u\n  vip: \"2001:db8::10\"\n  port: 53\n  protocol: udp\n  persistence: 60s\n  persistenceNetmask: 64\n  backends: [{address: \"2001:db8::2\", weight: 0, upperThreshold: 10, lowerThreshold: 5}]\n",
		"a: &a [1, *a]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse(data)
		if err != nil {
			checkRejection(t, err)
			return
		}
		again, err := config.Parse(data)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("the same file parsed twice differently: %v", err)
		}
		if d := Compare(c, again); d != (Delta{}) {
			t.Fatalf("a config compared with itself: %+v", d)
		}
		for _, up := range []bool{true, false} {
			want, _, _ := NewTranslator().Translate(c, func(probe.ID) bool { return up })
			if len(want.Services) != len(c.Services) {
				t.Fatalf("%d services translate to %d virtual servers", len(c.Services), len(want.Services))
			}
			seen := map[ipvs.Key]bool{}
			for _, vs := range want.Services {
				n := vs.Normalize()
				if err := n.ValidateNormalized(); err != nil {
					t.Fatalf("accepted config translates to an invalid virtual server: %v", err)
				}
				if err := ipvs.ValidateService(n.Service); err != nil {
					t.Fatalf("accepted config translates to a service the kernel rejects: %v", err)
				}
				for _, d := range n.Destinations {
					if err := ipvs.ValidateDestination(n.Key, d); err != nil {
						t.Fatalf("accepted config translates to a real server the kernel rejects: %v", err)
					}
				}
				if seen[n.Key] {
					t.Fatalf("two services translate to %s", n.Key)
				}
				seen[n.Key] = true
			}
		}
	})
}

func checkRejection(t *testing.T, err error) {
	t.Helper()
	if err.Error() == "" {
		t.Fatal("rejected with an empty error")
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if line == "" || len(line) > maxErrorLine {
			t.Fatalf("rejection line of %d bytes: %.200q", len(line), line)
		}
	}
}
