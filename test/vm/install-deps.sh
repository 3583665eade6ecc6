#!/bin/bash
# install-deps.sh - install the host packages the VM test tier needs (Debian).
#
# Usage: test/vm/install-deps.sh        (as root; needs apt access)
#
# What needs what:
#   qemu-system-x86            runs the client VM (TCG: no working KVM here)
#   debootstrap busybox-static cpio e2fsprogs kmod xz-utils
#                              build the guest image (test/vm/build-image.sh)
#   iproute2 util-linux        tap device inside the VM's network namespace
#   samba                      the SMB half of the self-check (smbd, smbpasswd)
#
# Package scripts would start smbd/nmbd (and friends) on the standard ports of
# the host; a policy-rc.d that answers 101 ("action forbidden") keeps every
# daemon down during the install.  A policy-rc.d that was already there is
# left alone.
set -euo pipefail

PACKAGES=(
	qemu-system-x86 qemu-utils
	debootstrap busybox-static cpio e2fsprogs kmod xz-utils
	iproute2 util-linux
	samba samba-common-bin
)

[ "$(id -u)" = 0 ] || { echo "install-deps: must run as root" >&2; exit 1; }

POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$POLICY"
	chmod 755 "$POLICY"
	created_policy=1
fi
cleanup() { if [ $created_policy = 1 ]; then rm -f "$POLICY"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# Other jobs on the machine may hold the dpkg lock for a while: wait for it.
APT=(apt-get -q -o DPkg::Lock::Timeout=900)
"${APT[@]}" update
"${APT[@]}" install -y --no-install-recommends "${PACKAGES[@]}"
