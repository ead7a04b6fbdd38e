package ipvs

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/ipvsd/ipvsd/internal/nlmsg"
)

// A full resync dumps every service's real servers: 100,000 messages at
// 10,000 Services x 10 endpoints. Received through nl.NetlinkSocket,
// each datagram was copied into a fresh buffer, split into a fresh slice
// of messages, and each message kept until its service was parsed: 33 of
// the 37 MB a dump allocated in a lab heap profile, some four collections'
// worth under the daemon's tight pacing, and collections slowed the
// changes that met them (issue 15, benchreport -trace). stream reads a
// dump into one buffer kept on the connection and hands each message to
// its parser before the next datagram (internal/nlmsg).

// stream sends one dump request (cmd, with the attributes attrs appends)
// and calls each with the payload of every reply, which is only valid
// during the call. An error from each ends the dump with it, after the
// rest of its replies are read, so the socket is left clean for the next
// request. The request is built in the connection's buffer too, not as
// an nl.NetlinkRequest: with the receive side, some 39 allocations fewer
// per service in the lab (TestStreamedDump).
func (c *genlConn) stream(cmd uint8, attrs func([]byte) []byte, each func([]byte) error) error {
	c.seq++
	b := append(c.wbuf[:0], noHeader[:]...)
	b = append(b, cmd, ipvsGenlVersion, 0, 0)
	b = attrs(b)
	c.wbuf = b
	native.PutUint32(b[0:4], uint32(len(b)))
	native.PutUint16(b[4:6], c.family)
	native.PutUint16(b[6:8], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_DUMP)
	native.PutUint32(b[8:12], c.seq)
	if err := nlmsg.Send(c.sock.GetFd(), b); err != nil {
		return fmt.Errorf("sending netlink request: %w", err)
	}
	if c.rbuf == nil {
		c.rbuf = make([]byte, nlmsg.DumpBufSize)
	}
	// IPVS dumps are not marked interrupted: its table has no generation.
	_, err := nlmsg.Dump(c.sock.GetFd(), c.rbuf, c.seq, c.pid, receiveTimeout, each)
	return err
}

// appendServiceKey appends the IPVS_CMD_ATTR_SERVICE that names k, as
// serviceKeyAttr builds it.
func appendServiceKey(b []byte, k Key) []byte {
	n := len(b)
	b = appendAttrHeader(b, ipvsCmdAttrService)
	b = appendU16(b, svcAttrAF, familyToAF(k.Family))
	if k.IsFWMark() {
		b = appendU32(b, svcAttrFWMark, k.FWMark)
		return endNest(b, n)
	}
	b = appendU16(b, svcAttrProtocol, uint16(k.Protocol))
	if k.Address.Is4() {
		a := k.Address.As4()
		b = appendAttr(b, svcAttrAddr, a[:])
	} else {
		a := k.Address.As16()
		b = appendAttr(b, svcAttrAddr, a[:])
	}
	b = appendBE16(b, svcAttrPort, k.Port)
	return endNest(b, n)
}
