package netdb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Default file locations.
const (
	HostsPath    = "/etc/hosts"
	ServicesPath = "/etc/services"
)

// DB answers name lookups from a hosts and a services table. The zero
// value knows no names.
type DB struct {
	// hosts maps an address to the first (canonical) name of the first
	// line listing it, which is what gethostbyaddr returns.
	hosts map[netip.Addr]string
	// byName maps a name or alias to the first IPv4 address listed for
	// it, which is what gethostbyname returns for an AF_INET lookup.
	byName map[string]netip.Addr
	// services maps "port/proto" to the official name of the first
	// matching line, as getservbyport returns it; servByName is the
	// reverse, aliases included, for getservbyname.
	services   map[string]string
	servByName map[string]uint16
}

// Load reads the hosts and services files at the given paths. A missing
// file is an empty table, as it is for glibc.
func Load(hostsPath, servicesPath string) (*DB, error) {
	db := &DB{}
	var errs []error
	if err := readIfExists(hostsPath, db.parseHosts); err != nil {
		errs = append(errs, fmt.Errorf("reading %s: %w", hostsPath, err))
	}
	if err := readIfExists(servicesPath, db.parseServices); err != nil {
		errs = append(errs, fmt.Errorf("reading %s: %w", servicesPath, err))
	}
	return db, errors.Join(errs...)
}

// LoadSystem reads /etc/hosts and /etc/services.
func LoadSystem() (*DB, error) { return Load(HostsPath, ServicesPath) }

func readIfExists(path string, parse func(io.Reader) error) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return parse(f)
}

// fields splits a line into its words, dropping a '#' comment.
func fields(line string) []string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.Fields(line)
}

func (db *DB) parseHosts(r io.Reader) error {
	db.hosts = map[netip.Addr]string{}
	db.byName = map[string]netip.Addr{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		// glibc parses the address with inet_pton: no zones, no
		// shorthand IPv4 forms; a line it cannot parse is skipped.
		a, err := netip.ParseAddr(f[0])
		if err != nil || a.Zone() != "" {
			continue
		}
		if _, seen := db.hosts[a]; !seen {
			db.hosts[a] = f[1]
		}
		if a.Is4() {
			for _, n := range f[1:] {
				// Host names compare without case, as in glibc.
				n = strings.ToLower(n)
				if _, seen := db.byName[n]; !seen {
					db.byName[n] = a
				}
			}
		}
	}
	return sc.Err()
}

func (db *DB) parseServices(r io.Reader) error {
	db.services = map[string]string{}
	db.servByName = map[string]uint16{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		num, proto, ok := strings.Cut(f[1], "/")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(num, 10, 16)
		if err != nil {
			continue
		}
		key := serviceKey(uint16(port), proto)
		if _, seen := db.services[key]; !seen {
			db.services[key] = f[0]
		}
		for _, n := range append([]string{f[0]}, f[2:]...) {
			if _, seen := db.servByName[n+"/"+proto]; !seen {
				db.servByName[n+"/"+proto] = uint16(port)
			}
		}
	}
	return sc.Err()
}

func serviceKey(port uint16, proto string) string { return strconv.Itoa(int(port)) + "/" + proto }

// Host returns the canonical name of a, if the hosts table lists it.
func (db *DB) Host(a netip.Addr) (string, bool) {
	n, ok := db.hosts[a]
	return n, ok
}

// Service returns the name of port for proto ("tcp", "udp", "sctp").
func (db *DB) Service(port uint16, proto string) (string, bool) {
	n, ok := db.services[serviceKey(port, proto)]
	return n, ok
}

// HostAddr returns the first IPv4 address listed for name, as ipvsadm's
// gethostbyname resolves a service address given by name.
func (db *DB) HostAddr(name string) (netip.Addr, bool) {
	a, ok := db.byName[strings.ToLower(name)]
	return a, ok
}

// Port returns the port named name for proto, as getservbyname does.
func (db *DB) Port(name, proto string) (uint16, bool) {
	p, ok := db.servByName[name+"/"+proto]
	return p, ok
}
