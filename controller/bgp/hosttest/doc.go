// Package hosttest runs the BGP speaker (GoBGP, embedded) against a real
// BIRD 2 router in a network namespace of its own, joined by a veth pair
// to the test's private namespace, and judges every step by what BIRD
// holds (birdc). It needs root and Debian's bird2, and fails without them.
package hosttest
