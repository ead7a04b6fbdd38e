// Package app holds ipvsd's command tree and all of its process wiring.
// Each subcommand lives in its own file (run.go, standalone.go,
// cleanup.go, list.go) and only parses flags and wires packages together;
// dataplane.go builds what both daemon modes share (the host through
// hostenv, the reconciler, the programmer and its metrics), so `run` and
// `standalone` differ only in the source that feeds the programmer. The
// work is done in ipvs/, netlinkutil/ and controller/.
package app
