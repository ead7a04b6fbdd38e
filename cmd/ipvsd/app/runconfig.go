package app

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/ipvsd/ipvsd/controller/proxyconfig"
)

// loadedRunConfig is the configuration of `ipvsd run` and what the log
// should say about how it came to be.
type loadedRunConfig struct {
	proxyconfig.Config
	// ignored are the file's fields that mean nothing to an IPVS proxy.
	ignored []string
	// overrides are the flags given on the command line that replaced a
	// value the file set.
	overrides []string
}

// loadRunConfig returns the configuration: the file at path (if any) or
// kube-proxy's defaults, then the flags set on cmdline, which win; then
// validated.
func loadRunConfig(path string, cmdline *pflag.FlagSet) (loadedRunConfig, error) {
	out := loadedRunConfig{Config: proxyconfig.Default()}
	if path != "" {
		c, err := proxyconfig.ReadFile(path)
		if err != nil {
			return out, err
		}
		out.ignored = proxyconfig.Ignored(&c)
		proxyconfig.SetDefaults(&c)
		out.overrides = changedBy(c, cmdline)
		out.Config = c
	}
	if err := proxyconfig.Overlay(&out.Config, cmdline); err != nil {
		return out, err
	}
	if err := out.Validate(); err != nil {
		if path != "" {
			return out, fmt.Errorf("config %s and flags: %w", path, err)
		}
		return out, err
	}
	return out, nil
}

// changedBy lists the flags set on cmdline whose value differs from the
// file's: kube-proxy ignores most flags when --config is given, so a
// leftover flag in a migrated DaemonSet would change behaviour unseen.
func changedBy(file proxyconfig.Config, cmdline *pflag.FlagSet) []string {
	fs := pflag.NewFlagSet("file", pflag.ContinueOnError)
	proxyconfig.BindFlags(fs, &file)
	var out []string
	cmdline.Visit(func(f *pflag.Flag) {
		if fv := fs.Lookup(f.Name); fv != nil && fv.Value.String() != f.Value.String() {
			out = append(out, fmt.Sprintf("--%s=%s (file: %s)", f.Name, f.Value, fv.Value))
		}
	})
	return out
}

// logConfig says once what the configuration ignores and overrides.
func (c loadedRunConfig) logConfig(log *zap.Logger) {
	if len(c.ignored) > 0 {
		log.Info("config fields with no meaning for an IPVS proxy, accepted and ignored", zap.String("fields", strings.Join(c.ignored, ", ")))
	}
	if len(c.overrides) > 0 {
		log.Info("flags override the config file", zap.String("flags", strings.Join(c.overrides, ", ")))
	}
}

// writeRunConfig writes the effective configuration to path, as kube-proxy's
// --write-config-to does: a file either proxy reads back to the same
// settings.
func writeRunConfig(c proxyconfig.Config, path string) error {
	b, err := proxyconfig.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("--write-config-to: %w", err)
	}
	return nil
}
