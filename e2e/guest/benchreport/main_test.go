//go:build lab

package benchreport

import (
	"os"
	"testing"

	"github.com/ipvsd/ipvsd/e2e/lab"
)

func TestMain(m *testing.M) { os.Exit(lab.RequireGuest(m)) }
