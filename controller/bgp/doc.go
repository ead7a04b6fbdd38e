// Package bgp announces the VIPs of healthy services to routers over BGP.
//
// A Speaker holds BGP sessions and the routes announced on them; GoBGP
// (github.com/osrg/gobgp/v4, embedded as a library: no gobgpd process, no
// gRPC listener, no BGP listener) is the real one, bgptest.Speaker a
// stateful fake. The Announcer is the long-lived concern on top: it is
// told the configuration and, after every sync of the dataplane, which
// VIPs may be announced, and it drives the speaker, logs every route and
// peer transition, and keeps the metrics and the status ipvsd status shows.
package bgp
