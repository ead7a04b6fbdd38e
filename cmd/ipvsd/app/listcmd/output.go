package listcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ipvsd/ipvsd/controller/inspect"
	"github.com/ipvsd/ipvsd/ipvs"
	"github.com/ipvsd/ipvsd/ipvs/ipvsjson"
)

// listing is the machine-readable form of a listing: the same services,
// in the same order, with every counter as an exact 64-bit integer. A
// service is the shape the daemon's files under /run/ipvsd use too.
type listing struct {
	Version     string             `json:"version"`
	ConnTabSize uint32             `json:"connTableSize"`
	Services    []ipvsjson.Service `json:"services"`
}

func newListing(info ipvs.Info, svcs []ipvs.ServiceWithDests, ro ipvs.RenderOptions) listing {
	l := listing{Version: info.VersionString(), ConnTabSize: info.ConnTabSize, Services: []ipvsjson.Service{}}
	for _, s := range ipvs.Ordered(svcs, ro.Order) {
		v := ipvsjson.FromService(s.Service)
		if s.Flags&ipvs.FlagPersistent == 0 { // timeout and netmask mean nothing then
			v.Timeout, v.Netmask = 0, 0
		}
		stats := ipvsjson.Stats(s.Stats)
		v.Stats, v.Destinations = &stats, []ipvsjson.Destination{}
		if ro.Owner != nil {
			v.Owner = ro.Owner(s.Key)
			v.Foreign = v.Owner == inspect.Foreign
			if v.Foreign {
				v.Owner = ""
			}
		}
		for _, d := range s.Destinations {
			dv := ipvsjson.FromDestination(d.Destination)
			dv.Conns = ipvsjson.FromConns(d)
			v.Destinations = append(v.Destinations, dv)
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
