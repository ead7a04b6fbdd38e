// Package nlmsg reads netlink replies in place: a dump's datagrams go
// into one buffer its caller keeps, and each message is handed over
// before the next datagram is read, without the fresh buffer, message
// slice and attribute slice per datagram and message that
// nl.NetlinkSocket.Receive, syscall.ParseNetlinkMessage and
// nl.ParseRouteAttr allocate. A full resync at 10,000 Services reads
// some 100,000 IPVS real servers and a few listings of 10,000 VIPs; read
// that way they were most of what the resync allocated, and the
// collections that garbage paid for slowed the changes they met (issue
// 15). Both the IPVS and the route side use it.
package nlmsg
