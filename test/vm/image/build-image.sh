#!/bin/bash
# build-image.sh - build the client VM's guest image into OUTDIR.
#
# Usage: build-image.sh OUTDIR CACHEDIR
#
# The Go harness (package vm) runs this with the files of this directory
# written next to it, under an exclusive lock on CACHEDIR, and only when
# OUTDIR/.complete is missing.  OUTDIR gets:
#   vmlinux      the uncompressed Debian kernel.  It is an ELF with a PVH entry
#                point, so QEMU boots it directly and TCG does not spend ~3 s
#                decompressing a bzImage.
#   initrd.img   a tiny busybox initramfs (initramfs-init): it loads the
#                virtio/ext4 modules and switch_roots to the ext4 root.
#   rootfs.ext4  a debootstrap minbase Debian with the NFS/CIFS client tools
#                and only the kernel modules the guest needs.  It is written
#                by `mke2fs -d`, so no loop device is needed.  QEMU opens it
#                with snapshot=on: it is never modified, and every boot is clean.
#   manifest     what went in.
# Downloads (the kernel package and the debootstrap tarball) are kept in
# CACHEDIR and shared between images.
#
# Env: SUITE (bookworm), MIRROR (http://deb.debian.org/debian),
#      KERNEL_DEB (use this linux-image-*.deb instead of asking apt).
set -euo pipefail

[ $# = 2 ] || { sed -n '2,/^set -e/p' "$0" | sed '$d;s/^# \{0,1\}//'; exit 2; }
OUT=$1
CACHE=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

# netbase provides /etc/services: without it rpcbind listens on its unix
# socket only, never on port 111.
GUEST_PACKAGES=nfs-common,rpcbind,netbase,cifs-utils,iproute2,kmod,procps,keyutils,util-linux,strace
# Modules loaded by the initramfs (with their dependencies), so that no
# modprobe has to run later: the root disk, the host link, the 9p shares and
# the NFS client.  The amd64 flavour is needed (cloud-amd64 has no 9p).
INITRD_MODULES="virtio_pci virtio_blk ext4 virtio_console virtio_net 9pnet_virtio 9p
  sunrpc lockd nfs nfsv3"
# Fixed client-side ports, so that a server can call the guest back (NLM
# GRANTED to lockd, the NFSv4.0 callback) without asking its portmapper.
LOCKD_OPTIONS="nlm_tcpport=4045 nlm_udpport=4045"
NFS_OPTIONS="callback_tcpport=4048"
# More modules in the root file system, for the kernel to load on demand.
GUEST_MODULES="nfsv4 rpcsec_gss_krb5 cifs nls_utf8 nls_ascii"
# cifs asks for its ciphers and hashes by name at mount time
# (request_module), which no dependency list shows: take them all.
GUEST_MODULE_DIRS="kernel/crypto kernel/arch/x86/crypto kernel/lib"

log() { echo "[build-image] $*" >&2; }
die() { echo "[build-image] ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap)"

T0=$(date +%s)
mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/work.XXXXXX")
chmod 755 "$WORK" # apt-get download runs as _apt and must reach $WORK/deb
trap 'rm -rf "$WORK"' EXIT

# ---- kernel ------------------------------------------------------------------
if [ -n "${KERNEL_DEB:-}" ]; then
	KPKG=$(dpkg-deb -f "$KERNEL_DEB" Package)
	KVERSION=$(dpkg-deb -f "$KERNEL_DEB" Version)
else
	# linux-image-amd64 is a metapackage; its dependency is the kernel.
	KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[ -n "$KPKG" ] || die "apt does not know linux-image-amd64: run apt-get update"
	KVERSION=$(apt-cache show --no-all-versions "$KPKG" | awk '$1 == "Version:" { print $2; exit }')
fi
KDIR=$CACHE/kernel-$KPKG-$KVERSION
if [ ! -f "$KDIR/.complete" ]; then
	log "downloading $KPKG $KVERSION"
	rm -rf "$KDIR"
	mkdir -p "$KDIR"
	deb=${KERNEL_DEB:-}
	if [ -z "$deb" ]; then
		mkdir "$WORK/deb"
		# apt drops privileges to _apt when it may write the directory
		chown _apt "$WORK/deb" 2>/dev/null || true
		(cd "$WORK/deb" && apt-get download -q "$KPKG=$KVERSION" >&2)
		deb=$(ls "$WORK"/deb/*.deb)
	fi
	dpkg-deb -x "$deb" "$KDIR/root"
	touch "$KDIR/.complete"
fi
KVER=$(ls "$KDIR/root/lib/modules")
MODS=$KDIR/root/lib/modules/$KVER
[ -f "$MODS/modules.dep" ] || depmod -b "$KDIR/root" "$KVER"

mkdir -p "$WORK/out"
# The bzImage carries the ELF vmlinux compressed; find the payload by its
# magic number and keep the first candidate that inflates to an ELF.
log "extracting vmlinux"
vmlinuz=$KDIR/root/boot/vmlinuz-$KVER
found=0
for codec in 'xz -dc:\xFD7zXZ\x00' 'zstd -dcq:\x28\xB5\x2F\xFD' 'gzip -dc:\x1F\x8B\x08'; do
	tool=${codec%%:*}
	command -v "${tool%% *}" >/dev/null || continue
	for off in $(LC_ALL=C grep -obUaP "${codec#*:}" "$vmlinuz" | cut -d: -f1); do
		# trailing data after the stream makes the tools fail: ignore that
		tail -c +$((off + 1)) "$vmlinuz" | $tool >"$WORK/out/vmlinux" 2>/dev/null || true
		if [ "$(head -c 4 "$WORK/out/vmlinux" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
			found=1
			break 2
		fi
	done
done
[ $found = 1 ] || die "no ELF kernel inside $vmlinuz"
echo "$KVER" >"$WORK/out/kver"

# deps <module>...: the .ko files to load, dependencies first
deps() {
	local m
	for m in "$@"; do
		modprobe -d "$KDIR/root" -S "$KVER" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }' | sed "s|^.*/lib/modules/$KVER/||"
	done | awk '!seen[$0]++'
}

# ---- initramfs ---------------------------------------------------------------
log "building initramfs"
IR=$WORK/initrd
mkdir -p "$IR"/{bin,dev,proc,sys,newroot,modules}
cp /bin/busybox "$IR/bin/busybox"
install -m 755 "$HERE/initramfs-init" "$IR/init"
# shellcheck disable=SC2086
deps $INITRD_MODULES >"$WORK/initrd-modules"
while read -r ko; do
	cp "$MODS/$ko" "$IR/modules/"
	case "$(basename "$ko")" in
	lockd.ko*) echo "/modules/$(basename "$ko") $LOCKD_OPTIONS" ;;
	nfs.ko*) echo "/modules/$(basename "$ko") $NFS_OPTIONS" ;;
	*) echo "/modules/$(basename "$ko")" ;;
	esac
done <"$WORK/initrd-modules" >"$IR/modules.order"
# uncompressed: nothing to inflate under TCG
(cd "$IR" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$WORK/out/initrd.img"

# ---- root filesystem ---------------------------------------------------------
BASE=$CACHE/debootstrap-$(echo "$SUITE $MIRROR $GUEST_PACKAGES" | sha256sum | cut -c1-16).tar
if [ ! -f "$BASE" ]; then
	log "debootstrap $SUITE minbase + $GUEST_PACKAGES (about a minute)"
	if ! debootstrap --variant=minbase --include="$GUEST_PACKAGES" \
		"$SUITE" "$WORK/debootstrap" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
		tail -20 "$WORK/debootstrap.log" >&2
		die "debootstrap failed"
	fi
	tar -C "$WORK/debootstrap" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
	rm -rf "$WORK/debootstrap"
fi
log "assembling rootfs"
R=$WORK/rootfs
mkdir -p "$R"
tar -C "$R" -xf "$BASE"
rm -rf "$R"/usr/share/{doc,man,info,locale}/* "$R"/var/cache/apt/*.bin \
	"$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*_Packages

mkdir -p "$R/lib/modules/$KVER"
cp "$MODS"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KVER/"
{
	# shellcheck disable=SC2086
	deps $INITRD_MODULES $GUEST_MODULES
	for d in $GUEST_MODULE_DIRS; do
		if [ -d "$MODS/$d" ]; then (cd "$MODS" && find "$d" -name '*.ko*'); fi
	done
} | awk '!seen[$0]++' | while read -r ko; do
	mkdir -p "$R/lib/modules/$KVER/$(dirname "$ko")"
	cp "$MODS/$ko" "$R/lib/modules/$KVER/$ko"
done
depmod -b "$R" "$KVER"

install -m 755 "$HERE/guest-init" "$R/sbin/tandem-init"
: >"$R/etc/fstab"
# the same options if the modules are ever loaded again
cat >"$R/etc/modprobe.d/tandem.conf" <<EOF
options lockd $LOCKD_OPTIONS
options nfs $NFS_OPTIONS
EOF
# nothing inside the image may start services from package scripts
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
mkdir -p "$R/host" "$R/opt/tandem" "$R/var/lib/nfs/sm" "$R/var/lib/nfs/sm.bak"

log "writing rootfs.ext4"
used=$(du -sm "$R" | cut -f1)
size=$((used + used / 4 + 768)) # sparse; room for what tests write to /
mke2fs -q -t ext4 -O ^has_journal -L tandemroot -E root_owner=0:0 \
	-d "$R" "$WORK/out/rootfs.ext4" "${size}M" >&2

{
	echo "built $(date -u +%FT%TZ) in $(($(date +%s) - T0)) s"
	echo "kernel $KPKG $KVERSION ($KVER)"
	echo "suite $SUITE, packages $GUEST_PACKAGES"
	echo "rootfs ${used} MiB in a ${size} MiB sparse image"
} >"$WORK/out/manifest"

rm -rf "$OUT"
mv "$WORK/out" "$OUT"
touch "$OUT/.complete"
log "done in $(($(date +%s) - T0)) s: $OUT"
