// Package inspect compares what the daemon published under /run/ipvsd
// (the ownership record and the desired state) with the kernel's table,
// for `ipvsd list --owners` and `ipvsd list --drift`. It only reads: the
// daemon stays the only writer.
package inspect
