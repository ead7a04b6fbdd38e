#!/bin/bash
# build-base.sh CACHE_DIR
#
# Builds the kernel lab's cached pieces: Debian's stock kernel (which, unlike
# the host's, has IPVS and dummy as modules) and a base initramfs holding
# busybox, the kernel modules, and the guest tools (ip, ipvsadm, ipset,
# iptables, nft, bird, birdc) with their shared libraries. Prints the directory holding
# `vmlinuz` and `base.cpio.gz`.
#
# Idempotent and safe to run concurrently: the result is keyed by kernel
# version and this script's own hash, and builds are serialised with flock.
set -euo pipefail

CACHE_DIR=${1:?usage: build-base.sh CACHE_DIR}
mkdir -p "$CACHE_DIR"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)
SELF=$(readlink -f "$0")

log() { echo "lab: $*" >&2; }

# Serialise concurrent builds (go test runs packages in parallel).
exec 9>"$CACHE_DIR/.lock"
flock 9

# bird2: the BGP router of the multi-director tests; nftables: nft, for
# kube-proxy's nftables mode.
PKGS=(qemu-system-x86 busybox-static kmod cpio iproute2 ipvsadm iptables ipset netbase bird2 nftables)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# install_quietly PKG...: apt-get install without starting any daemon a
# package ships (bird2's): the tests run their own BIRD in a namespace, and
# a test machine must not gain a routing daemon. policy-rc.d is how Debian
# lets an installer refuse service starts; one already there is left as it
# is, and bird.service, enabled by the package, is disabled again only
# when this script installed it.
install_quietly() {
	local policy=/usr/sbin/policy-rc.d ours=
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
	fi
	local rc=0
	apt-get install -y -qq --no-install-recommends "$@" >&2 || rc=$?
	[[ -z $ours ]] || rm -f "$policy"
	if [[ " $* " == *" bird2 "* && -d /run/systemd/system ]]; then
		systemctl disable --now --quiet bird.service >&2 || true
	fi
	return $rc
}

if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	install_quietly "${missing[@]}"
fi

# The package linux-image-amd64 depends on is the versioned kernel image.
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [[ -z "$KPKG" ]]; then
	apt-get update -qq >&2
	KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
fi
[[ -n "$KPKG" ]] || { log "cannot resolve linux-image-amd64"; exit 1; }

KEY="$KPKG-$(sha256sum "$SELF" | cut -c1-12)"
OUT="$CACHE_DIR/$KEY"
if [[ -s "$OUT/base.cpio.gz" && -s "$OUT/vmlinuz" ]]; then
	echo "$OUT"
	exit 0
fi

WORK=$(mktemp -d "$CACHE_DIR/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

log "downloading $KPKG"
(cd "$WORK" && apt-get download "$KPKG" >&2 2>/dev/null) || (cd "$WORK" && apt-get download "$KPKG" >&2)
dpkg-deb -x "$WORK"/"$KPKG"_*.deb "$WORK/kernel"
KVER=$(ls "$WORK/kernel/lib/modules")
KMOD="$WORK/kernel/lib/modules/$KVER"

ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,run,tmp,var,root,lab}
ln -s ../run "$ROOT/var/run"

# busybox applets into /bin only. iproute2, not busybox's ip applet, must win:
# busybox's ip has no netns support, so no busybox `ip` link is created at all.
cp /bin/busybox "$ROOT/bin/busybox"
for a in $("$ROOT/bin/busybox" --list); do
	case "$a" in
	ip | ipaddr | iplink | iproute | iprule | iptunnel | ipneigh | busybox) continue ;;
	esac
	[[ -e "$ROOT/bin/$a" ]] || ln -s busybox "$ROOT/bin/$a"
done
# The kernel's request_module() runs /sbin/modprobe (schedulers, ipset types).
ln -s ../bin/busybox "$ROOT/sbin/modprobe"

copy_with_libs() { # copy_with_libs SRC [DEST]
	local src=$1 dst=${2:-$1}
	mkdir -p "$ROOT$(dirname "$dst")"
	cp -L "$src" "$ROOT$dst"
	ldd "$src" 2>/dev/null | awk '/=>/ {print $3} /^[ \t]*\/lib/ {print $1}' | while read -r lib; do
		[[ -n "$lib" && -e "$lib" ]] || continue
		mkdir -p "$ROOT$(dirname "$lib")"
		[[ -e "$ROOT$lib" ]] || cp -L "$lib" "$ROOT$lib"
	done
}

copy_with_libs /sbin/ip /sbin/ip
ln -s ../../sbin/ip "$ROOT/usr/sbin/ip"
copy_with_libs /usr/sbin/ipvsadm
copy_with_libs /usr/sbin/ipset
copy_with_libs /usr/sbin/xtables-nft-multi
copy_with_libs /usr/sbin/xtables-legacy-multi
copy_with_libs /usr/sbin/bird
copy_with_libs /usr/sbin/birdc
copy_with_libs /usr/sbin/nft
for t in iptables ip6tables; do
	for s in "" -save -restore; do
		ln -s xtables-nft-multi "$ROOT/usr/sbin/$t-nft$s"
		ln -s xtables-legacy-multi "$ROOT/usr/sbin/$t-legacy$s"
		ln -s xtables-nft-multi "$ROOT/usr/sbin/$t$s"
	done
done
for lib in /usr/lib/x86_64-linux-gnu/xtables/*.so; do
	copy_with_libs "$lib"
done
cp /etc/services /etc/protocols "$ROOT/etc/" 2>/dev/null || true
echo "root:x:0:0:root:/root:/bin/sh" >"$ROOT/etc/passwd"
echo "root:x:0:" >"$ROOT/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$ROOT/etc/hosts"
echo "hosts: files" >"$ROOT/etc/nsswitch.conf"

# Kernel modules: networking, crypto and lib (libcrc32c wants crc32c), plus
# the few drivers we boot with.
M="$ROOT/lib/modules/$KVER"
mkdir -p "$M/kernel/drivers/net"
for d in net crypto lib arch; do cp -a "$KMOD/kernel/$d" "$M/kernel/"; done
for f in dummy veth virtio_net net_failover; do cp "$KMOD/kernel/drivers/net/$f.ko" "$M/kernel/drivers/net/"; done
cp -a "$KMOD/kernel/drivers/virtio" "$M/kernel/drivers/"
cp "$KMOD"/modules.builtin* "$KMOD/modules.order" "$M/" 2>/dev/null || true
depmod -b "$ROOT" "$KVER"

cat >"$ROOT/init" <<'INIT'
#!/bin/sh
# Kernel lab init: mount, load IPVS and friends, run /lab/run.sh from the
# per-run archive, print the exit marker the host parses, power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/netns
echo 1 >/proc/sys/kernel/printk
# libcrc32c has a soft dependency on crc32c_generic that busybox's modprobe
# does not follow: without it ip_vs fails with "unknown symbol".
modprobe crc32c_generic
for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh ip_vs_sh \
	ip_vs_sed ip_vs_nq ip_vs_mh ip_vs_fo ip_vs_ovf ip_vs_twos dummy veth nf_conntrack \
	nf_conntrack_netlink xt_ipvs ip_set; do
	modprobe "$m" 2>/dev/null
done
/sbin/ip link set lo up
# A run with Config.Network has a virtio NIC on qemu's user network: the
# guest is 10.0.2.15/24 and 10.0.2.2 is the host's loopback (where the e2e
# API server listens). The PCI probe can lag the modprobe, so wait for eth0.
modprobe virtio_pci 2>/dev/null
modprobe virtio_net 2>/dev/null
if [ -d /sys/bus/pci/drivers/virtio-pci ] && grep -qs 0x1af4 /sys/bus/pci/devices/*/vendor; then
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -e /sys/class/net/eth0 ] && break
		sleep 0.2
	done
fi
if [ -e /sys/class/net/eth0 ]; then
	/sbin/ip addr add 10.0.2.15/24 dev eth0
	/sbin/ip link set eth0 up
	/sbin/ip route add default via 10.0.2.2
fi
hostname lab
rc=127
if [ -x /lab/run.sh ]; then
	/lab/run.sh
	rc=$?
fi
echo "IPVSD-LAB-EXIT=$rc"
sync
poweroff -f
INIT
chmod +x "$ROOT/init"

mkdir -p "$OUT.tmp"
cp "$WORK/kernel/boot/vmlinuz-$KVER" "$OUT.tmp/vmlinuz"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT.tmp/base.cpio.gz"
echo "$KVER" >"$OUT.tmp/kernel-version"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
log "built $OUT ($(du -h "$OUT/base.cpio.gz" | cut -f1) initramfs)"
echo "$OUT"
