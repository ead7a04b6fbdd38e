//go:build lab

// Package firewall sends real traffic through IPVS and controller/firewall
// in the lab VM, next to a Calico-like ruleset (FORWARD policy DROP) that
// must come out byte-for-byte untouched: masquerade decisions seen from the
// backend, hairpin, NodePort on selected addresses, load-balancer source
// ranges, rejection of a VIP's other ports and of services without real
// servers, externalTrafficPolicy: Local through firewall marks, in both
// iptables back-ends.
package firewall
