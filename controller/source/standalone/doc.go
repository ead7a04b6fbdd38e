// Package standalone is the bare-metal source of desired state: it
// translates the YAML file (controller/source/standalone/config) and the
// backends' health (controller/source/standalone/probe) into the
// reconciler's and the firewall's desired state and hands it to the
// dataplane programmer, reloads the file on SIGHUP or when it changes,
// and exports the health-check and reload metrics.
package standalone
