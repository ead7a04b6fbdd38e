package ipvstest

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/ipvs"
)

// The write methods check in the kernel's order (ip_vs_genl_set_cmd): the
// service must exist (ESRCH) unless being added, then the real server's
// family, then the command's own checks. Errors are wrapped exactly as
// the real handle wraps them, so messages match too.

// AddService adds s; EEXIST if its key exists.
func (f *Fake) AddService(s ipvs.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s = s.Canonical()
	if err := f.addService(s); err != nil {
		return fmt.Errorf("adding virtual server %s: %w", s.Key, err)
	}
	return nil
}

func (f *Fake) addService(s ipvs.Service) error {
	if err := f.begin(OpAddService, s.Key, ipvs.DestKey{}); err != nil {
		return err
	}
	if err := ipvs.ValidateService(s); err != nil {
		return err
	}
	if _, ok := f.services[s.Key]; ok {
		return unix.EEXIST
	}
	if err := checkService(s); err != nil {
		return err
	}
	f.services[s.Key] = &fakeService{svc: s, dests: map[ipvs.DestKey]*ipvs.DestinationState{}}
	return nil
}

// UpdateService replaces the parameters of an existing service (its
// counters are kept); ESRCH if it does not exist.
func (f *Fake) UpdateService(s ipvs.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s = s.Canonical()
	if err := f.updateService(s); err != nil {
		return fmt.Errorf("updating virtual server %s: %w", s.Key, err)
	}
	return nil
}

func (f *Fake) updateService(s ipvs.Service) error {
	if err := f.begin(OpUpdateService, s.Key, ipvs.DestKey{}); err != nil {
		return err
	}
	if err := ipvs.ValidateService(s); err != nil {
		return err
	}
	fs, ok := f.services[s.Key]
	if !ok {
		return unix.ESRCH
	}
	if err := checkService(s); err != nil {
		return err
	}
	fs.svc = s // the counters stay
	return nil
}

// DeleteService removes a service with its real servers; ESRCH if it does
// not exist.
func (f *Fake) DeleteService(k ipvs.Key) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k = k.Canonical()
	if err := f.deleteService(k); err != nil {
		return fmt.Errorf("deleting virtual server %s: %w", k, err)
	}
	return nil
}

func (f *Fake) deleteService(k ipvs.Key) error {
	if err := f.begin(OpDeleteService, k, ipvs.DestKey{}); err != nil {
		return err
	}
	if err := ipvs.ValidateService(ipvs.Service{Key: k}); err != nil {
		return err
	}
	if _, ok := f.services[k]; !ok {
		return unix.ESRCH
	}
	delete(f.services, k)
	return nil
}

// target begins op on real server d of service k and finds the service:
// the real server's family first (the real handle checks it before it asks
// the kernel anything, so that error comes before ESRCH), then ESRCH for a
// missing service. The command's own checks come after.
func (f *Fake) target(op Op, k ipvs.Key, d ipvs.Destination) (*fakeService, error) {
	if err := f.begin(op, k, d.DestKey); err != nil {
		return nil, err
	}
	if err := ipvs.ValidateDestination(k, d); err != nil {
		return nil, err
	}
	fs, ok := f.services[k]
	if !ok {
		return nil, unix.ESRCH
	}
	return fs, nil
}

// AddDestination adds a real server; ESRCH if the service is missing,
// EEXIST if the real server exists, ERANGE for a negative weight or
// crossed thresholds, EINVAL for an address that is never unicast.
func (f *Fake) AddDestination(k ipvs.Key, d ipvs.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, d = k.Canonical(), d.Canonical()
	if err := f.addDestination(k, d); err != nil {
		return fmt.Errorf("adding real server %s to %s: %w", d.DestKey, k, err)
	}
	return nil
}

func (f *Fake) addDestination(k ipvs.Key, d ipvs.Destination) error {
	fs, err := f.target(OpAddDestination, k, d)
	if err != nil {
		return err
	}
	if err := checkDestLimits(d); err != nil {
		return err
	}
	if _, ok := fs.dests[d.DestKey]; ok {
		return unix.EEXIST
	}
	if err := checkUnicast(d.Address); err != nil {
		return err
	}
	fs.dests[d.DestKey] = &ipvs.DestinationState{Destination: d}
	return nil
}

// UpdateDestination changes a real server's weight, forwarding and
// thresholds, keeping its counters; ESRCH if the service is missing,
// ENOENT if the real server is, ERANGE as for AddDestination.
func (f *Fake) UpdateDestination(k ipvs.Key, d ipvs.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, d = k.Canonical(), d.Canonical()
	if err := f.updateDestination(k, d); err != nil {
		return fmt.Errorf("updating real server %s in %s: %w", d.DestKey, k, err)
	}
	return nil
}

func (f *Fake) updateDestination(k ipvs.Key, d ipvs.Destination) error {
	fs, err := f.target(OpUpdateDestination, k, d)
	if err != nil {
		return err
	}
	if err := checkDestLimits(d); err != nil {
		return err
	}
	old, ok := fs.dests[d.DestKey]
	if !ok {
		return unix.ENOENT
	}
	old.Weight, old.Forwarding = d.Weight, d.Forwarding
	old.UpperThreshold, old.LowerThreshold = d.UpperThreshold, d.LowerThreshold
	return nil
}

// DeleteDestination removes a real server; ESRCH if the service is
// missing, ENOENT if the real server is.
func (f *Fake) DeleteDestination(k ipvs.Key, dk ipvs.DestKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k = k.Canonical()
	dk.Address = dk.Address.Unmap()
	if err := f.deleteDestination(k, dk); err != nil {
		return fmt.Errorf("deleting real server %s from %s: %w", dk, k, err)
	}
	return nil
}

func (f *Fake) deleteDestination(k ipvs.Key, dk ipvs.DestKey) error {
	fs, err := f.target(OpDeleteDestination, k, ipvs.Destination{DestKey: dk})
	if err != nil {
		return err
	}
	if _, ok := fs.dests[dk]; !ok {
		return unix.ENOENT
	}
	delete(fs.dests, dk)
	return nil
}
