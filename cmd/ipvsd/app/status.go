package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/ipvsd/ipvsd/controller/bgp"
)

type statusFlags struct {
	metricsAddr string
	output      string
	timeout     time.Duration
}

func newStatus() *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running ipvsd standalone's BGP sessions and announced routes",
		Long: `status asks the running daemon (on its --metrics-addr, at /status) for
its BGP state: the ASN and router ID, each peer's session state, how long
it has been in it, whether graceful restart was negotiated and how many
times it went down, and the routes announced. -o json prints what the
daemon serves.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.metricsAddr, "metrics-addr", DefaultMetricsAddr, "the daemon's --metrics-addr")
	fl.StringVarP(&f.output, "output", "o", "text", "text or json")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long to wait for the daemon")
	return cmd
}

func runStatus(ctx context.Context, out io.Writer, f statusFlags) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output: must be text or json, not %q", f.output)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	url := "http://" + f.metricsAddr + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("asking the daemon (is ipvsd standalone running with --metrics-addr %s?): %w", f.metricsAddr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	var st statusReport
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	if f.output == "json" {
		_, err := out.Write(body)
		return err
	}
	return bgp.Render(out, st.BGP, time.Now())
}
