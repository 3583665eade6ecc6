#!/bin/bash
# Tandem side by side with Samba and NFS-Ganesha: the one command.
#
#   bench/run.sh [sidebyside flags...]     e.g. bench/run.sh -quick, -reps 5, -workloads seqwrite,seqread
#
# Installs the peers and the clients from Debian when missing (no daemon is
# started by the packages), builds Tandem, the driver (bench/cmd/sidebyside)
# and the libnfs client (bench/libnfsclient), then runs the driver in a
# private network namespace whose only interface is loopback: the peers'
# fixed ports (rpcbind on 111 among them) collide with nothing else on the
# machine, and nothing can leave it. Writes bench/results/results.{md,json,png}
# and the table in bench/README.md. Needs root (apt, useradd, namespaces).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
T0=$(date +%s)

# Every program and module the driver runs, by the package that ships it
# (dpkg -S): smbd (samba), smbpasswd (samba-common-bin), the acl_xattr and
# streams_xattr VFS modules of smb.conf (samba-vfs-modules, which samba
# only recommends), smbclient, ganesha.nfsd (nfs-ganesha) and its FSAL_VFS
# (nfs-ganesha-vfs), rpcbind, rpc.statd (nfs-common), libnfs.h and
# libnfs.so (libnfs-dev, libnfs13), iperf3, gcc and libc6-dev for the
# libnfs client, PostgreSQL 15's initdb and postgres (postgresql-15), and
# what run.sh itself uses: unshare and mount (util-linux, mount), ip
# (iproute2), useradd (passwd), git.
PKGS="samba samba-common-bin samba-vfs-modules smbclient nfs-ganesha nfs-ganesha-vfs rpcbind nfs-common
      libnfs13 libnfs-dev libnfs-utils iperf3 gcc libc6-dev postgresql-15 util-linux mount iproute2 passwd git"
command -v go >/dev/null || { echo "run.sh: needs the Go toolchain (go) in PATH" >&2; exit 1; }

# SeaweedFS, the S3 server of the PostgreSQL + S3 rows, is built from the
# Go module proxy once per machine (test/s3test caches it in
# /var/tmp/tandem-seaweedfs; several minutes the first time), meanwhile
# the packages install and the rest builds; nothing is measured before it
# is done.
WEEDLOG=$(mktemp /tmp/tandem-bench-weed.XXXXXX)
go run ./test/s3test/buildweed >"$WEEDLOG" 2>&1 &
WEED=$!

missing=""
for p in $PKGS; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "run.sh: installing$missing"
  # Keep the packages' init scripts from starting smbd, ganesha or rpcbind
  # on the host: policy-rc.d answering 101 forbids every service start.
  PRC=/usr/sbin/policy-rc.d; saved=""
  if [ -e $PRC ]; then saved=$(mktemp); cp -p $PRC "$saved"; fi
  printf '#!/bin/sh\nexit 101\n' > $PRC; chmod 755 $PRC
  restore() { if [ -n "$saved" ]; then mv "$saved" $PRC; else rm -f $PRC; fi; }
  trap restore EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
  restore; trap - EXIT
fi

BUILD=$(mktemp -d /tmp/tandem-bench-build.XXXXXX)
trap 'rm -rf "$BUILD"' EXIT
echo "run.sh: building"
go build -o "$BUILD/tandem" ./cmd/tandem
go build -o "$BUILD/sidebyside" ./bench/cmd/sidebyside
go build -o "$BUILD/tandemprof" ./bench/cmd/tandemprof
gcc -O2 -Wall -o "$BUILD/libnfsclient" bench/libnfsclient/libnfsclient.c -lnfs

echo "run.sh: SeaweedFS for the PostgreSQL + S3 rows (built once per machine, then cached)"
if ! wait $WEED; then cat "$WEEDLOG" >&2; rm -f "$WEEDLOG"; exit 1; fi
rm -f "$WEEDLOG"

# The cross-protocol break latency (Tandem alone, a few seconds): a Go
# benchmark on the host's loopback, ephemeral ports only. A failure is
# reported in the results, not fatal to the comparison.
echo "run.sh: cross-protocol break latency (go test -bench CrossProtocolBreak ./bench/)"
go test -run '^$' -bench CrossProtocolBreak -benchtime 500x ./bench/ > "$BUILD/break.txt" 2>&1 ||
  echo "run.sh: the break latency benchmark failed:"
grep -E '^(Benchmark|--- FAIL|\s+break_test)' "$BUILD/break.txt" || true

ARGS=(-tandem "$BUILD/tandem" -tandemprof "$BUILD/tandemprof" -libnfsclient "$BUILD/libnfsclient" -break "$BUILD/break.txt" -t0 "$T0"
      -out "$ROOT/bench/results" -readme "$ROOT/bench/README.md" -commit "$(git rev-parse HEAD 2>/dev/null || echo unknown)")

# Inside the namespace: bring loopback up, give rpcbind and friends a /run
# of their own, run the driver, then end whatever is still running in this
# namespace (only processes started here can be in it), by PID.
INNER='
ip link set lo up
mount -t tmpfs tmpfs /run
"$@"; rc=$?
me=$(readlink /proc/self/ns/net)
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ "$p" = $$ ] && continue
  [ "$(readlink $d/ns/net 2>/dev/null)" = "$me" ] && kill -9 "$p" 2>/dev/null && echo "run.sh: ended leftover process $p"
done
exit $rc'
# BENCH_NO_NETNS=1 runs on the host's loopback instead (port 111 must then be free for rpcbind).
if [ -z "${BENCH_NO_NETNS:-}" ] && unshare --net --mount --propagation private true 2>/dev/null; then
  unshare --net --mount --propagation private bash -c "$INNER" inner "$BUILD/sidebyside" -netns "${ARGS[@]}" "$@"
else
  echo "run.sh: running on the host's loopback (rpcbind needs port 111 free)"
  "$BUILD/sidebyside" "${ARGS[@]}" "$@"
fi
echo "run.sh: finished in $(( $(date +%s) - T0 )) s"
