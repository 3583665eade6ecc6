#!/usr/bin/env bash
# Installs, from Debian, what the tests need. Idempotent; as root.
#   libnfs-utils                 nfs-cp/nfs-cat/nfs-ls, a userspace NFSv3 client
#   smbclient                    Samba's SMB clients (smbclient, smbcacls: test/smbtools), judges of the SMB server
#   qemu-system-x86              the VM with the Linux kernel NFS/CIFS clients (TCG)
#   debootstrap busybox-static cpio e2fsprogs kmod xz-utils
#                                build the guest image (test/vm/image)
#   iproute2 util-linux          the VM's tap device and network namespace, test/smbtools' namespace
#   samba samba-common-bin       smbd for the SMB self-check of the VM harness
#   samba-testsuite              smbtorture, Samba's SMB conformance suite (test/smbtorture)
#   systemd adduser              systemd-analyze verify of the packaged unit, the package's user (test/pkg)
#   postgresql-15                the PostgreSQL metadata store's tests (test/pgtest starts its own
#                                server as the user tandemtest, made below; no service is started)
# SeaweedFS, the S3 server of the S3 content store's tests, is not a Debian package: test/s3test
# builds it from the Go module proxy into /var/tmp/tandem-seaweedfs the first time (minutes).
set -euo pipefail
pkgs=(libnfs-utils smbclient qemu-system-x86 debootstrap busybox-static cpio e2fsprogs kmod
      xz-utils iproute2 util-linux samba samba-common-bin samba-testsuite postgresql-15 systemd adduser)
# PostgreSQL refuses to run as root; the tests run it as this user.
if [ "$(id -u)" = 0 ] && ! id tandemtest >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin tandemtest
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "all test dependencies present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "missing packages: ${missing[*]}; run this script as root" >&2
	exit 1
fi
# Package scripts must not start daemons (smbd on 445, rpcbind on 111)
# that would take the ports the tests use.
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}"
