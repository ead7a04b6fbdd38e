package ipvs

import "fmt"

// Info is what the kernel says about its IPVS as a whole (IPVS_CMD_GET_INFO):
// the version ipvsadm prints in its first line and the size of the
// connection hash table.
type Info struct {
	// Version is encoded as the kernel does: major<<16 | minor<<8 | patch.
	Version     uint32
	ConnTabSize uint32
}

// VersionString renders Version as ipvsadm does: 1.2.1.
func (i Info) VersionString() string {
	return fmt.Sprintf("%d.%d.%d", i.Version>>16&0xff, i.Version>>8&0xff, i.Version&0xff)
}
