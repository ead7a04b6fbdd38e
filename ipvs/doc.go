// Package ipvs is ipvsd's model of the kernel's IP Virtual Server table and
// the narrow interface through which everything else reads and writes it.
//
// The types here are plain, comparable values: a virtual server is
// identified by its Key, a real server within it by its DestKey. Kernel
// quirks (the hashed flag the kernel reports but refuses to be given, fwmark
// services' zero address, per-scheduler flag names) are hidden in this
// package's conversions and never leak to callers.
package ipvs
