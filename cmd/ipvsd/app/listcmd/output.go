package listcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ipvsd/ipvsd/controller/inspect"
	"github.com/ipvsd/ipvsd/ipvs"
)

// listing is the machine-readable form of a listing: the same services,
// in the same order, with every counter as an exact 64-bit integer.
type listing struct {
	Version     string        `json:"version"`
	ConnTabSize uint32        `json:"connTableSize"`
	Services    []serviceView `json:"services"`
}

type serviceView struct {
	Family       string     `json:"family"`
	Protocol     string     `json:"protocol,omitempty"`
	Address      netip.Addr `json:"address,omitzero"`
	Port         uint16     `json:"port,omitempty"`
	FWMark       uint32     `json:"fwmark,omitempty"`
	Scheduler    string     `json:"scheduler"`
	Flags        []string   `json:"flags,omitempty"`
	Timeout      uint32     `json:"timeout,omitempty"`
	Netmask      uint8      `json:"netmask,omitempty"`
	PEName       string     `json:"pe,omitempty"`
	Owner        string     `json:"owner,omitempty"`
	Foreign      bool       `json:"foreign,omitempty"`
	Stats        statsView  `json:"stats"`
	Destinations []destView `json:"destinations"`
}

type destView struct {
	Address        netip.Addr `json:"address"`
	Port           uint16     `json:"port"`
	Forwarding     string     `json:"forwarding"`
	Weight         int        `json:"weight"`
	UpperThreshold uint32     `json:"upperThreshold"`
	LowerThreshold uint32     `json:"lowerThreshold"`
	ActiveConns    uint32     `json:"activeConns"`
	InactiveConns  uint32     `json:"inactiveConns"`
	PersistConns   uint32     `json:"persistConns"`
	Stats          statsView  `json:"stats"`
}

type statsView struct {
	Conns    uint64 `json:"conns"`
	InPkts   uint64 `json:"inPkts"`
	OutPkts  uint64 `json:"outPkts"`
	InBytes  uint64 `json:"inBytes"`
	OutBytes uint64 `json:"outBytes"`
	CPS      uint64 `json:"cps"`
	InPPS    uint64 `json:"inPPS"`
	OutPPS   uint64 `json:"outPPS"`
	InBPS    uint64 `json:"inBPS"`
	OutBPS   uint64 `json:"outBPS"`
}

func newListing(info ipvs.Info, svcs []ipvs.ServiceWithDests, ro ipvs.RenderOptions) listing {
	l := listing{Version: info.VersionString(), ConnTabSize: info.ConnTabSize, Services: []serviceView{}}
	for _, s := range ipvs.Ordered(svcs, ro.Order) {
		v := serviceView{
			Family: s.Family.String(), Address: s.Address, Port: s.Port, FWMark: s.FWMark,
			Scheduler: s.Scheduler, Flags: s.Flags.Names(), PEName: s.PEName,
			Stats: statsView(s.Stats), Destinations: []destView{},
		}
		if !s.IsFWMark() {
			v.Protocol = s.Protocol.String()
		}
		if s.Flags&ipvs.FlagPersistent != 0 { // timeout and netmask mean nothing otherwise
			v.Timeout, v.Netmask = s.Timeout, s.Netmask
		}
		if ro.Owner != nil {
			v.Owner = ro.Owner(s.Key)
			v.Foreign = v.Owner == inspect.Foreign
			if v.Foreign {
				v.Owner = ""
			}
		}
		for _, d := range s.Destinations {
			v.Destinations = append(v.Destinations, destView{
				Address: d.Address, Port: d.Port, Forwarding: d.Forwarding.String(), Weight: d.Weight,
				UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
				ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns, PersistConns: d.PersistConns,
				Stats: statsView(d.Stats),
			})
		}
		l.Services = append(l.Services, v)
	}
	return l
}

// encode writes v as indented JSON or as YAML. YAML is converted from the
// JSON, so both carry the same fields; integers stay exact in both.
func encode(w io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", format, err)
	}
	if format == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return fmt.Errorf("encoding yaml: %w", err)
		}
	} else {
		b = append(b, '\n')
	}
	_, err = w.Write(b)
	return err
}

// writeDrift prints one line a virtual server and one a real server:
//
//	changed TCP 192.0.2.1:80 (web): scheduler wlc, want rr
//	  missing 10.0.0.1:80: want weight 1 Masq
func writeDrift(w io.Writer, drift []inspect.Drift) error {
	var b bytes.Buffer
	for _, d := range drift {
		fmt.Fprintf(&b, "%-8s %s", d.Kind, d.Service)
		if d.Owner != "" {
			fmt.Fprintf(&b, " (%s)", d.Owner)
		}
		if len(d.Changes) > 0 {
			b.WriteString(": " + strings.Join(d.Changes, "; "))
		}
		b.WriteByte('\n')
		for _, dd := range d.Destinations {
			fmt.Fprintf(&b, "  %-8s %s", dd.Kind, dd.Destination)
			if len(dd.Changes) > 0 {
				b.WriteString(": " + strings.Join(dd.Changes, "; "))
			}
			b.WriteByte('\n')
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
