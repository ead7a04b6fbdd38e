// Package lab is the host side of the kernel lab: it boots Debian's stock
// kernel (which has IPVS and dummy, unlike the host's) under qemu with a
// small initramfs, runs Go test binaries inside, streams their output back
// and returns the guest's exit status.
//
// The base initramfs (busybox, kernel modules, ip/ipvsadm/ipset/iptables) is
// built once by build-base.sh and cached; every run appends a second cpio
// archive holding that run's test binaries and script, so the cached base
// never needs rebuilding.
package lab
