//go:build lab

// Package packaging runs ipvsd in the lab VM on the iptables packagings
// of lab.Packaging (only plain names, of nft or of legacy; plain nft next
// to suffixed legacy; Debian's) with another agent's ruleset, FORWARD
// policy DROP included, in the back-end the plain tools drive: ipvsd's
// chains must land there and nowhere else, so traffic flows. It also runs
// `ipvsd cleanup` on a kernel whose IPVS went away, which must still
// remove our chains and sets and leave everyone else's byte for byte.
package packaging
