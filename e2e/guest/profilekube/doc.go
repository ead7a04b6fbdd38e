//go:build lab

// Package profilekube profiles `ipvsd run` inside the kernel lab VM
// against the real API server: a cold start with every Service already
// created, single-endpoint EndpointSlice changes one at a time, and idle.
// It takes CPU profiles in windows and heap profiles after each phase
// through --profiling (pprof on the metrics address) and sends them over
// the console with lab.EmitProfile; figures go out as "figure: NAME VALUE
// UNIT" lines. Run is a function, not only a test, so that the bench report
// can run the same phases.
package profilekube
