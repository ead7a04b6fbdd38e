package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/dataplane"
	"github.com/ipvsd/ipvsd/controller/firewall"
	"github.com/ipvsd/ipvsd/controller/hostenv"
	"github.com/ipvsd/ipvsd/controller/reconciler"
	"github.com/ipvsd/ipvsd/internal/httpserve"
	"github.com/ipvsd/ipvsd/ipvs"
)

// plane is the dataplane both daemon modes run: the host opened through
// hostenv, the reconciler on it, the programmer that drives both and the
// firewall, and the metrics of all three. Only the source feeding it
// differs between `run` and `standalone`.
type plane struct {
	env     *hostenv.Env
	metrics *dataplane.Metrics
	prog    *dataplane.Programmer
}

// planeOptions are what the two modes set differently.
type planeOptions struct {
	host       hostenv.Options
	reconciler reconciler.Config
	programmer dataplane.Config
	// openFirewall is nil when the firewall is left alone.
	openFirewall func(context.Context) (dataplane.Firewall, error)
	// statsLabels and ownerLabels label the per-virtual-server series.
	statsLabels []string
	ownerLabels func(owner string) []string
}

func openPlane(o planeOptions, log *zap.Logger) (*plane, error) {
	env, err := hostenv.Open(o.host, log)
	if err != nil {
		return nil, err
	}
	engine, err := reconciler.New(o.reconciler, env.Deps(log))
	if err != nil {
		env.Close()
		return nil, err
	}
	m := dataplane.NewMetrics(dataplane.StatsConfig{
		Kernel: env.IPVS, Owned: func() map[ipvs.Key]string { return engine.Owned().Services },
		Labels: o.statsLabels, OwnerLabels: o.ownerLabels,
	}, nil)
	prog, err := dataplane.New(o.programmer, dataplane.Deps{IPVS: engine, OpenFirewall: o.openFirewall, Metrics: m, Log: log})
	if err != nil {
		env.Close()
		return nil, err
	}
	return &plane{env: env, metrics: m, prog: prog}, nil
}

func (p *plane) Close() error { return p.env.Close() }

// firewallOpener turns an --iptables-mode value into the programmer's
// opener: nil for "none", which leaves the firewall alone.
func firewallOpener(mode string, log *zap.Logger) (func(context.Context) (dataplane.Firewall, error), error) {
	if mode == "none" {
		return nil, nil
	}
	m, err := firewall.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (dataplane.Firewall, error) {
		return firewall.New(ctx, log.Named("firewall"), firewall.Config{Mode: m})
	}, nil
}

// endpoint is one HTTP listener: addr "" is off; routes map paths to
// handlers.
type endpoint struct {
	addr   string
	routes map[string]http.Handler
}

// serveAll starts every endpoint that has an address. The servers run
// until ctx is done or stop is called; stop shuts them down and returns
// their errors. If one endpoint cannot start, those already started are
// stopped before the error is returned.
func serveAll(ctx context.Context, log *zap.Logger, eps []endpoint) (stop func() error, err error) {
	ctx, cancel := context.WithCancel(ctx)
	var waits []func() error
	stop = func() error {
		cancel()
		var errs []error
		for _, w := range waits {
			errs = append(errs, w())
		}
		return errors.Join(errs...)
	}
	for _, e := range eps {
		if e.addr == "" {
			continue
		}
		mux := http.NewServeMux()
		for path, h := range e.routes {
			mux.Handle(path, h)
		}
		addr, w, err := httpserve.Serve(ctx, e.addr, mux)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("serving on %s: %w", e.addr, err), stop())
		}
		log.Info("serving", zap.Stringer("address", addr))
		waits = append(waits, w)
	}
	return stop, nil
}

// healthMaxAge is how long /healthz stays 200 after the last successful
// sync: two full-resync periods, so a daemon that keeps retrying stays up
// through a short outage.
func healthMaxAge(fullResync time.Duration) time.Duration {
	if fullResync <= 0 {
		fullResync = dataplane.DefaultFullResyncInterval
	}
	return 2 * fullResync
}
