#!/bin/bash
# build.sh CACHE_DIR
#
# Builds kube-apiserver, etcd and kube-proxy (the real one, to compare with
# and to take over from) from the tools module next to this script
# (e2e/apiserver/tools) into CACHE_DIR/<key>/ and prints that directory. The
# key is a hash of the tools module's go.mod and go.sum and of this script,
# so a version bump rebuilds and everything else reuses the cached binaries:
# a cold build takes about 4 minutes and 2 GB of memory, a cached one nothing.
#
# `go install k8s.io/kubernetes/cmd/kube-apiserver@v...` cannot work: that
# module's go.mod replaces its staging modules with local directories. The
# tools module maps each of them to its published version instead.
#
# Idempotent and safe to run concurrently: builds are serialised with flock.
set -euo pipefail

CACHE_DIR=${1:?usage: build.sh CACHE_DIR}
mkdir -p "$CACHE_DIR"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)
SELF=$(readlink -f "$0")
TOOLS=$(dirname "$SELF")/tools

log() { echo "apiserver: $*" >&2; }

# go test runs packages in parallel, and two cold builds at once would need
# twice the memory for nothing.
exec 9>"$CACHE_DIR/.lock"
flock 9

KEY=$(cat "$TOOLS/go.mod" "$TOOLS/go.sum" "$SELF" | sha256sum | cut -c1-16)
OUT="$CACHE_DIR/$KEY"
if [[ -x "$OUT/kube-apiserver" && -x "$OUT/etcd" && -x "$OUT/kube-proxy" ]]; then
	echo "$OUT"
	exit 0
fi

# The version the binaries report comes from the tools module itself, so a
# bump of k8s.io/kubernetes can never leave a stale version string behind.
KVER=$(cd "$TOOLS" && GOWORK=off go list -m -f '{{.Version}}' k8s.io/kubernetes)
KMINOR=$(echo "$KVER" | cut -d. -f2)
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$KVER"
LDFLAGS+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$KMINOR"
LDFLAGS+=" -X k8s.io/component-base/version.gitTreeState=clean"

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
start=$(date +%s)
log "building kube-apiserver $KVER, kube-proxy and etcd (cold: about 6 minutes, 2 GB of memory)"
(
	cd "$TOOLS"
	export GOWORK=off CGO_ENABLED=0
	go build -trimpath -ldflags "$LDFLAGS" -o "$OUT.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
	go build -trimpath -ldflags "$LDFLAGS" -o "$OUT.tmp/kube-proxy" k8s.io/kubernetes/cmd/kube-proxy
	go build -trimpath -ldflags "-s -w" -o "$OUT.tmp/etcd" go.etcd.io/etcd/server/v3
) >&2
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
# Older keys are dead weight (100+ MB each) once a new one is built.
for d in "$CACHE_DIR"/*/; do
	[[ "${d%/}" == "$OUT" ]] || rm -rf "${d%/}"
done
log "built $OUT in $(($(date +%s) - start)) s"
echo "$OUT"
