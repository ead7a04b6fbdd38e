// Package netlinktest provides Fake, an in-memory stand-in for the kernel's
// rtnetlink and conntrack tables that satisfies netlinkutil.Handle and
// netlinkutil.ConntrackHandle. It keeps state and fails where the kernel
// does, with the kernel's errno: EEXIST for a duplicate link or address,
// EADDRNOTAVAIL for removing an address that is not there, ENODEV for a
// link that does not exist, EOPNOTSUPP for a link type without a driver.
package netlinktest
