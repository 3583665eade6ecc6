//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/vm"
)

// TestKernelCIFS mounts the export with the Linux kernel's CIFS client at
// each dialect family, signed and sealed, and runs the POSIX workload as
// far as CIFS semantics allow: no symbolic links, ownership or modes
// (without the cifsacl or unix extensions the client shows the mount's
// file_mode and uid; the write bits map to READONLY). Each mount works in
// a directory of its own. The user is uid 1000, the owner of everything
// it makes.
func TestKernelCIFS(t *testing.T) {
	v := client(t)
	srv := newTandemServer(t, v)
	addSMBUser(t, srv, "tester", "1000")
	srv.start(t)
	waitSMB(t, srv)

	for _, m := range []struct{ name, opts string }{
		{"smb2.1", "vers=2.1"},
		{"smb3.0", "vers=3.0"},
		{"smb3.1.1", "vers=3.1.1"},
		{"smb3.1.1-seal", "vers=3.1.1,seal"},
		{"smb3.1.1-sign", "vers=3.1.1,sign"},
	} {
		t.Run(m.name, func(t *testing.T) {
			top := "/mnt/" + m.name
			mnt := top + "/" + m.name
			mount := cifsMountCmd(v, top, m.opts)
			sh(t, v, time.Minute, mount+" && mkdir "+mnt)
			unmounted := false
			t.Cleanup(func() {
				if !unmounted {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					_, _ = v.Exec(ctx, "umount "+top+" || umount -l "+top, nil)
				}
			})
			// The mount has what was asked: the dialect, and seal or sign.
			want := strings.TrimPrefix(strings.Split(m.opts, ",")[0], "vers=")
			got := sh(t, v, 10*time.Second, `grep " `+top+` " /proc/mounts`)
			if !strings.Contains(got, "vers="+want) || (strings.Contains(m.opts, "seal") && !strings.Contains(got, ",seal")) {
				t.Fatalf("mount options: %s", got)
			}
			t.Run("files", func(t *testing.T) { cifsFiles(t, v, mnt) })
			t.Run("rename", func(t *testing.T) { cifsRename(t, v, mnt) })
			t.Run("links", func(t *testing.T) { cifsLinks(t, v, mnt) })
			t.Run("attributes", func(t *testing.T) { cifsAttributes(t, v, mnt) })
			t.Run("directories", func(t *testing.T) { cifsDirectories(t, v, mnt) })
			t.Run("copytree", func(t *testing.T) { cifsCopyTree(t, v, top, mnt, mount) })
			if m.name == "smb3.1.1" {
				t.Run("bigdir", func(t *testing.T) { cifsBigDir(t, v, mnt) })
			}
			sh(t, v, 30*time.Second, "umount "+top)
			unmounted = true
		})
	}
	srv.checkLogs(t)
}

// create, write, read, append, truncate, O_EXCL, positional I/O.
func cifsFiles(t *testing.T, v *vm.VM, mnt string) {
	expectSh(t, v, time.Minute, `cd `+mnt+` && mkdir files && cd files
printf 'hello\n' > a
cat a
printf 'world\n' >> a
`+dropCaches+`
cat a
stat -c '%s' a
truncate -s 3 a
`+dropCaches+`
cat a; echo
truncate -s 6 a
`+dropCaches+`
od -An -tx1 a
stat -c '%s %F' a
: > empty
stat -c '%s %F' empty`,
		lines("hello", "hello", "world", "12", "hel", " 68 65 6c 00 00 00", "6 regular file", "0 regular empty file"))

	f := mnt + "/files/p"
	res := mustProbe(t, v, time.Minute,
		probeOp{"op": "open", "path": f, "flags": "O_RDWR|O_CREAT|O_EXCL", "mode": "0640"},
		probeOp{"op": "pwrite", "off": 100, "data": "xyz"},
		probeOp{"op": "fsync"},
		probeOp{"op": "fstat"},
		probeOp{"op": "pread", "off": 98, "len": 10},
		probeOp{"op": "ftruncate", "size": 50},
		probeOp{"op": "fstat"},
		probeOp{"op": "write", "data": "head"},
		probeOp{"op": "close"},
	)
	if st := res[3].Stat; st.Size != 103 || st.Type != "file" {
		t.Errorf("after pwrite at 100: %s", res[3])
	}
	if d := res[4].Data; d == nil || *d != "\x00\x00xyz" {
		t.Errorf("pread over the hole: %s", res[4])
	}
	if st := res[6].Stat; st.Size != 50 {
		t.Errorf("after ftruncate to 50: %s", res[6])
	}
	if res[7].N != 4 {
		t.Errorf("write: %s", res[7])
	}

	sh(t, v, time.Minute, dropCaches)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res = probe(ctx, t, v,
		probeOp{"op": "open", "path": f, "flags": "O_RDWR|O_CREAT|O_EXCL"},
		probeOp{"op": "open", "fd": "r", "path": f, "flags": "O_RDONLY"},
		probeOp{"op": "read", "fd": "r", "len": 100},
		probeOp{"op": "open", "fd": "ap", "path": f, "flags": "O_WRONLY|O_APPEND"},
		probeOp{"op": "write", "fd": "ap", "data": "tail"},
		probeOp{"op": "fstat", "fd": "ap"},
		probeOp{"op": "open", "fd": "missing", "path": mnt + "/files/nope", "flags": "O_RDONLY"},
	)
	if res[0].OK || res[0].Errno != "EEXIST" {
		t.Errorf("O_CREAT|O_EXCL on an existing file: %s, want EEXIST", res[0])
	}
	if d := res[2].Data; d == nil || *d != "head"+strings.Repeat("\x00", 46) {
		t.Errorf("read back: %s", res[2])
	}
	if st := res[5].Stat; st == nil || st.Size != 54 {
		t.Errorf("after O_APPEND write: %s", res[5])
	}
	if res[6].OK || res[6].Errno != "ENOENT" {
		t.Errorf("open of a missing file: %s, want ENOENT", res[6])
	}

	// A copy inside the mount: cp uses copy_file_range, which the client
	// turns into a server-side copy (COPYCHUNK).
	expectSh(t, v, time.Minute, `cd `+mnt+`/files
head -c 5000000 /dev/urandom > /tmp/big
cp /tmp/big big
cp big big2
`+dropCaches+`
cmp /tmp/big big2 && echo copy-equal
stat -c %s big2`, lines("copy-equal", "5000000"))
}

// rename of files and directories, over existing files and empty
// directories, and what CIFS refuses.
func cifsRename(t *testing.T, v *vm.VM, mnt string) {
	expectSh(t, v, time.Minute, `cd `+mnt+` && mkdir ren && cd ren
printf one > x; printf two > y
mv x z
ls
mv -f z y
`+dropCaches+`
ls; cat y; echo
mkdir d1 d2 e1 e2 full; printf in > d1/f; : > e1/k; : > full/busy
mv d1/f d2/g
mv d2 d1/d3
mv -T e1 e2
`+dropCaches+`
find . | LC_ALL=C sort
cat d1/d3/g; echo`,
		lines("y", "z", "y", "one",
			".", "./d1", "./d1/d3", "./d1/d3/g", "./e2", "./e2/k", "./full", "./full/busy", "./y",
			"in"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := probe(ctx, t, v,
		probeOp{"op": "rename", "path": mnt + "/ren/nothing", "path2": mnt + "/ren/x"},
		probeOp{"op": "rename", "path": mnt + "/ren/y", "path2": mnt + "/ren/full"},
	)
	for i, w := range []string{"ENOENT", "EISDIR"} {
		if res[i].OK || res[i].Errno != w {
			t.Errorf("rename %d: %s, want %s", i, res[i], w)
		}
	}
	// A directory over a non-empty one is refused; CIFS says so with
	// EACCES or ENOTEMPTY depending on the kernel.
	res = probe(ctx, t, v, probeOp{"op": "rename", "path": mnt + "/ren/e2", "path2": mnt + "/ren/full"})
	if res[0].OK || (res[0].Errno != "ENOTEMPTY" && res[0].Errno != "EACCES") {
		t.Errorf("rename over a non-empty directory: %s", res[0])
	}
}

// hard links; symbolic links are not CIFS semantics without extensions.
func cifsLinks(t *testing.T, v *vm.VM, mnt string) {
	expectSh(t, v, time.Minute, `cd `+mnt+` && mkdir links && cd links
printf data > a
ln a b
`+dropCaches+`
stat -c '%h' a b
[ "$(stat -c %i a)" = "$(stat -c %i b)" ] && echo same-inode
rm a
`+dropCaches+`
stat -c '%h' b; cat b; echo
ln -s b s 2>/dev/null || echo no-symlink
ls`,
		lines("2", "2", "same-inode", "1", "data", "no-symlink", "b"))
}

// times to the 100 ns SMB keeps, and the write bits as READONLY. (The
// client shows an atime older than the mtime as the mtime, so the atime
// here is the later.)
func cifsAttributes(t *testing.T, v *vm.VM, mnt string) {
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC)
	atime := time.Date(2009, 12, 31, 23, 59, 58, 500000000, time.UTC)
	ts := func(tm time.Time) string { return fmt.Sprintf("%d.%09d", tm.Unix(), tm.Nanosecond()) }
	at100 := func(tm time.Time) string { return fmt.Sprintf("%d.%07d00", tm.Unix(), tm.Nanosecond()/100) }
	expectSh(t, v, time.Minute, `cd `+mnt+` && mkdir attrs && cd attrs
printf x > f
touch -m -d @`+ts(mtime)+` f
touch -a -d @`+ts(atime)+` f
`+dropCaches+`
stat -c '%.9X %.9Y %s' f
chmod a-w f
`+dropCaches+`
stat -c '%A' f
printf y >> f 2>/dev/null || echo read-only
chmod u+w f
printf y >> f
cat f; echo`,
		lines(at100(atime)+" "+at100(mtime)+" 1", "-r-xr-xr-x", "read-only", "xy"))
}

// deep mkdir -p, rmdir of a non-empty directory, rm -r.
func cifsDirectories(t *testing.T, v *vm.VM, mnt string) {
	var deep []string
	for i := 1; i <= 20; i++ {
		deep = append(deep, strconv.Itoa(i))
	}
	bottom := "deep/" + strings.Join(deep, "/")
	expectSh(t, v, time.Minute, `cd `+mnt+`
mkdir -p `+bottom+`
printf bottom > `+bottom+`/f
`+dropCaches+`
find deep | wc -l
cat `+bottom+`/f; echo`,
		lines("22", "bottom"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := probe(ctx, t, v,
		probeOp{"op": "rmdir", "path": mnt + "/deep/1"},
		probeOp{"op": "mkdir", "path": mnt + "/deep"},
		probeOp{"op": "unlink", "path": mnt + "/deep/1"},
	)
	for i, w := range []string{"ENOTEMPTY", "EEXIST", "EISDIR"} {
		if res[i].OK || res[i].Errno != w {
			t.Errorf("%s: %s, want %s", res[i].Op, res[i], w)
		}
	}
	expectSh(t, v, time.Minute, `cd `+mnt+`
rm -r deep
`+dropCaches+`
[ ! -e deep ] && echo gone
ls | grep -c '^deep$' || true`, lines("gone", "0"))
}

// cifsTree makes the 1,000-file source tree of the copy tests at
// /tmp/src, with one bash process (printf is a builtin).
const cifsTree = `rm -rf /tmp/src && mkdir /tmp/src && cd /tmp/src
for d in $(seq 0 9); do
	mkdir d$d
	for f in $(seq -w 0 99); do
		printf 'file %s/%s %0*d\n' $d $f $((10#$f * 37 + d)) 0 > d$d/f$f
	done
done
head -c 3000000 /dev/urandom > d9/big
`

// cp -r of a 1,000-file tree into the mount, diff -r equal, then again
// after a remount (nothing comes from the client's cache).
func cifsCopyTree(t *testing.T, v *vm.VM, top, mnt, mount string) {
	r := v.MustExec(t, 10*time.Minute, `set -euo pipefail
step() { echo "$1 $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2; t0=$(date +%s%N); }
t0=$(date +%s%N)
`+cifsTree+`
step source
cp -r /tmp/src `+mnt+`/tree
step cp-r
diff -r /tmp/src `+mnt+`/tree && echo diff-equal
step diff-r
umount `+top+`
`+mount+`
step remount
diff -r /tmp/src `+mnt+`/tree && echo diff-equal
step diff-r
find `+mnt+`/tree -type f | wc -l
rm -r `+mnt+`/tree
step rm-r`)
	t.Logf("steps: %s", strings.ReplaceAll(strings.TrimSpace(string(r.Stderr)), "\n", ", "))
	if want := lines("diff-equal", "diff-equal", "1001"); string(r.Stdout) != want {
		t.Fatalf("cp -r: got\n%swant\n%s", r.Stdout, want)
	}
}

// A 3,000-entry directory lists exactly, in many QUERY_DIRECTORY pages.
func cifsBigDir(t *testing.T, v *vm.VM, mnt string) {
	const n = 3000
	dir := mnt + "/big"
	t0 := time.Now()
	sh(t, v, 15*time.Minute, `mkdir `+dir+` && cd `+dir+` && for ((i = 0; i < `+strconv.Itoa(n)+`; i++)); do : > entry-with-a-longer-name-$i; done`)
	t.Logf("created %d files in %v", n, time.Since(t0).Round(time.Millisecond))
	expectSh(t, v, 5*time.Minute, dropCaches+`
ls -f `+dir+` | grep -c '^entry-with-a-longer-name-'
ls -f `+dir+` | sort | uniq -d | wc -l
rm -r `+dir,
		lines(strconv.Itoa(n), "0"))
}

// TestKernelCrossProtocol mounts the export over NFSv3 and over CIFS at
// once: a tree written through either mount reads back identically
// through the other, with the same sizes, the same file ids (inode
// numbers) and the same modification times within SMB's 100 ns.
func TestKernelCrossProtocol(t *testing.T) {
	v := client(t)
	srv := newTandemServer(t, v)
	addSMBUser(t, srv, "tester", "0")
	srv.start(t)
	waitSMB(t, srv)
	const nfs, cifs = "/mnt/xn", "/mnt/xc"
	sh(t, v, 2*time.Minute, nfsMountCmd(v, nfs, "")+" && "+cifsMountCmd(v, cifs, "vers=3.1.1"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = v.Exec(ctx, "umount "+cifs+" || umount -l "+cifs+"; umount "+nfs+" || umount -f -l "+nfs, nil)
	})

	// xmanifest prints, per entry: name, type, size (files only), inode
	// number and mtime cut to 100 ns.
	const xmanifest = `xmanifest() ( cd "$1"
	find . -mindepth 1 \( -type f -printf '%P f %s %i %T@\n' \) -o \( -type d -printf '%P d - %i %T@\n' \) |
		awk '{ split($5, t, "."); printf "%s %s %s %s %s.%s\n", $1, $2, $3, $4, t[1], substr(t[2] "0000000", 1, 7) }' | LC_ALL=C sort
)
`
	for _, dir := range []struct{ name, from, to, cp string }{
		{"nfs-to-cifs", nfs, cifs, "cp -a"},
		{"cifs-to-nfs", cifs, nfs, "cp -r --preserve=timestamps"},
	} {
		t.Run(dir.name, func(t *testing.T) {
			r := v.MustExec(t, 10*time.Minute, xmanifest+`set -euo pipefail
`+cifsTree+`
touch -m -d @1000000000.123456789 d0/f00
`+dir.cp+` /tmp/src `+dir.from+`/`+dir.name+`
`+dropCaches+`
diff -r /tmp/src `+dir.to+`/`+dir.name+` && echo diff-equal
xmanifest `+dir.from+`/`+dir.name+` > /tmp/m.from
xmanifest `+dir.to+`/`+dir.name+` > /tmp/m.to
diff /tmp/m.from /tmp/m.to >&2 && echo manifest-equal
wc -l < /tmp/m.to
grep '^d0/f00 ' /tmp/m.to | awk '{print $2, $3, $5}'
echo fresh > `+dir.from+`/new-`+dir.name+`
cat `+dir.to+`/new-`+dir.name)
			if want := lines("diff-equal", "manifest-equal", "1011", "f 12 1000000000.1234567", "fresh"); string(r.Stdout) != want {
				t.Fatalf("got\n%swant\n%sstderr:\n%s", r.Stdout, want, r.Stderr)
			}
		})
	}
	t.Run("smb-lock-binds-nfs", func(t *testing.T) { smbLockBindsNFS(t, v, cifs, nfs) })
	srv.checkLogs(t)
}

// smbLockBindsNFS: a byte-range lock taken through the kernel's SMB client
// is mandatory for the kernel's NFS client too. NFS reads and writes with
// O_DIRECT (so that each is one READ or WRITE on the wire) into the locked
// range fail with EACCES, outside it they succeed, and once the SMB lock
// goes they succeed everywhere.
func smbLockBindsNFS(t *testing.T, v *vm.VM, cifs, nfs string) {
	ops := []probeOp{
		{"op": "open", "fd": "c", "path": cifs + "/xlock", "flags": "O_RDWR|O_CREAT", "mode": "0644"},
		{"op": "pwrite", "fd": "c", "data": "0123456789abcdef"},
		{"op": "fsync", "fd": "c"},
		{"op": "lock", "fd": "c", "cmd": "F_SETLK", "type": "wr", "start": 0, "len": 8},
		{"op": "open", "fd": "n", "path": nfs + "/xlock", "flags": "O_RDWR|O_DIRECT"},
		{"op": "pread", "fd": "n", "off": 4, "len": 4},
		{"op": "pwrite", "fd": "n", "off": 6, "data": "xy"},
		{"op": "pread", "fd": "n", "off": 8, "len": 8},
		{"op": "pwrite", "fd": "n", "off": 12, "data": "CD"},
		{"op": "lock", "fd": "c", "cmd": "F_SETLK", "type": "un", "start": 0, "len": 8},
		{"op": "pwrite", "fd": "n", "off": 6, "data": "67"},
		{"op": "pread", "fd": "n", "off": 0, "len": 16},
		{"op": "close", "fd": "n"},
		{"op": "close", "fd": "c"},
	}
	want := []string{"", "", "", "", "", "EACCES", "EACCES", "", "", "", "", "", "", ""}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := probe(ctx, t, v, ops...)
	for i, r := range res {
		got := ""
		if !r.OK {
			got = r.Errno
			if got == "" {
				got = "error: " + r.Err
			}
		}
		if got != want[i] {
			t.Errorf("%v: %s, want %q", ops[i], r, want[i])
		}
	}
	if d := res[11].Data; d == nil || *d != "0123456789abCDef" {
		t.Errorf("NFS read after the unlock: %s", res[11])
	}
}
