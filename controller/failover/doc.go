// Package failover keeps the host settings that let a flow survive moving
// from one director to another: the kernel's IPVS connection sync
// daemons, which copy connections between directors, and IPVS's sloppy
// TCP and SCTP modes, which accept a flow mid-connection.
//
// The daemons are desired state like the virtual servers: Plan compares
// what the config asks for with what runs and with what ipvsd started (its
// record under /run), and the Keeper applies the plan. A daemon ipvsd did
// not start is never stopped unless the config asks for that role.
package failover
