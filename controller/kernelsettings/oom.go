package kernelsettings

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// OOMScoreAdjPath is this process's OOM score adjustment.
const OOMScoreAdjPath = "/proc/self/oom_score_adj"

// SetOOMScoreAdj sets the file at path (OOMScoreAdjPath) to v, as
// kube-proxy's oomScoreAdj does: at -999 the kernel's OOM killer takes
// the node's workloads before the proxy they all depend on. The old and
// new values are logged when they differ.
func SetOOMScoreAdj(path string, v int, log *zap.Logger) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("oom_score_adj: %w", err)
	}
	old := strings.TrimSpace(string(b))
	if old == strconv.Itoa(v) {
		return nil
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(v)), 0o644); err != nil {
		return fmt.Errorf("oom_score_adj %d: %w", v, err)
	}
	log.Info("changed oom_score_adj", zap.String("old", old), zap.Int("new", v))
	return nil
}
