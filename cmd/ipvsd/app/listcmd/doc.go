// Package listcmd is `ipvsd list`: ipvsadm's listing options with
// ipvsadm's output, plus machine-readable output, owners and drift. The
// cobra command only fills Options; Run does the work.
package listcmd
