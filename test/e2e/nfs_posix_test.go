//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/vm"
)

// TestKernelNFSPOSIX runs a POSIX workload through the Linux kernel's NFSv3
// client against `tandem serve`, with locking on (no nolock) and a hard
// mount, and checks every outcome exactly.  Where an answer could come from
// the client's caches, the script drops them first (drop_caches, or a
// remount), so what is checked is what the server stored.  The steps share
// one mount and one server and build on each other: remount and kill9
// recheck what the earlier steps left.
func TestKernelNFSPOSIX(t *testing.T) {
	v := client(t)
	srv := newTandemServer(t, v)
	srv.start(t)

	const mnt = "/mnt/t"
	sh(t, v, 2*time.Minute, nfsMountCmd(v, mnt, ""))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = v.Exec(ctx, "umount "+mnt+" || umount -f -l "+mnt, nil)
	})
	expectSh(t, v, 10*time.Second, `awk '$2 == "/mnt/t" { print $3 }' /proc/mounts`, "nfs\n")

	t.Run("files", func(t *testing.T) { testFiles(t, v, mnt) })
	t.Run("rename", func(t *testing.T) { testRename(t, v, mnt) })
	t.Run("links", func(t *testing.T) { testLinks(t, v, mnt) })
	t.Run("attributes", func(t *testing.T) { testAttributes(t, v, mnt) })
	t.Run("directories", func(t *testing.T) { testDirectories(t, v, mnt) })
	t.Run("copytree", func(t *testing.T) { testCopyTree(t, v, mnt) })
	t.Run("bigdir", func(t *testing.T) { testBigDir(t, v, mnt) })
	t.Run("remount", func(t *testing.T) { testRemount(t, v, mnt, nfsMountCmd(v, mnt, "")) })
	t.Run("kill9", func(t *testing.T) { testKill9(t, v, srv, mnt) })
	srv.checkLogs(t)
}

// crashable is a server that a test can kill -9 and start again on the
// same data.
type crashable interface {
	kill9(t *testing.T)
	start(t *testing.T)
	lastLog() string
}

const dropCaches = "sync; echo 3 > /proc/sys/vm/drop_caches"

// create, write, read, append, truncate, O_EXCL, positional I/O.
func testFiles(t *testing.T, v *vm.VM, mnt string) {
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
	if st := res[3].Stat; st.Size != 103 || st.Mode != "0640" || st.Type != "file" {
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
	if d := res[2].Data; !res[2].OK || d == nil || *d != "head"+strings.Repeat("\x00", 46) {
		t.Errorf("read back: %s", res[2])
	}
	if !res[4].OK || !res[5].OK || res[5].Stat.Size != 54 {
		t.Errorf("O_APPEND write: %s / %s", res[4], res[5])
	}
	if res[6].OK || res[6].Errno != "ENOENT" {
		t.Errorf("open of a missing file: %s, want ENOENT", res[6])
	}
}

// rename: plain, over an existing file, across directories, a directory
// into another one, over an empty directory, and onto a non-empty one.
func testRename(t *testing.T, v *vm.VM, mnt string) {
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
		probeOp{"op": "rename", "path": mnt + "/ren/e2", "path2": mnt + "/ren/full"},
		probeOp{"op": "rename", "path": mnt + "/ren/nothing", "path2": mnt + "/ren/x"},
		probeOp{"op": "rename", "path": mnt + "/ren/y", "path2": mnt + "/ren/full"},
	)
	want := []string{"ENOTEMPTY", "ENOENT", "EISDIR"}
	for i, w := range want {
		if res[i].OK || res[i].Errno != w {
			t.Errorf("rename %d: %s, want %s", i, res[i], w)
		}
	}
}

// hard links, symbolic links, readlink.
func testLinks(t *testing.T, v *vm.VM, mnt string) {
	expectSh(t, v, time.Minute, `cd `+mnt+` && mkdir links && cd links
printf data > a
ln a b
`+dropCaches+`
stat -c '%h' a b
[ "$(stat -c %i a)" = "$(stat -c %i b)" ] && echo same-inode
rm a
`+dropCaches+`
stat -c '%h' b; cat b; echo
ln -s b s
ln -s /nowhere/at/all dangling
`+dropCaches+`
readlink s dangling
stat -c '%F' s
stat -L -c '%F %s' s
cat s; echo
ls`,
		lines("2", "2", "same-inode", "1", "data", "b", "/nowhere/at/all", "symbolic link",
			"regular file 4", "data", "b", "dangling", "s"))
	res := mustProbe(t, v, time.Minute,
		probeOp{"op": "readlink", "path": mnt + "/links/s"},
		probeOp{"op": "lstat", "path": mnt + "/links/dangling"},
	)
	if res[0].Target != "b" {
		t.Errorf("readlink: %s", res[0])
	}
	if st := res[1].Stat; st.Type != "symlink" || st.Size != int64(len("/nowhere/at/all")) {
		t.Errorf("lstat of a symlink: %s", res[1])
	}
}

// chmod, chown, utimes (nanoseconds), on files and directories.
func testAttributes(t *testing.T, v *vm.VM, mnt string) {
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC)
	atime := time.Date(1999, 12, 31, 23, 59, 58, 500000000, time.UTC)
	ts := func(tm time.Time) string { return fmt.Sprintf("%d.%09d", tm.Unix(), tm.Nanosecond()) }
	expectSh(t, v, time.Minute, `cd `+mnt+` && mkdir attrs && cd attrs
printf x > f
chmod 0751 f
chown 1234:5678 f
touch -m -d @`+ts(mtime)+` f
touch -a -d @`+ts(atime)+` f
mkdir -m 0700 d
chown 42:43 d
chmod 1777 d
`+dropCaches+`
stat -c '%a %u:%g %s' f
stat -c '%.9X %.9Y' f
stat -c '%a %u:%g %F' d
chmod u-x,g+w f
chown :99 f
`+dropCaches+`
stat -c '%a %u:%g' f`,
		lines("751 1234:5678 1", ts(atime)+" "+ts(mtime), "1777 42:43 directory", "671 1234:99"))
}

// deep mkdir -p, rmdir of a non-empty directory, rm -r.
func testDirectories(t *testing.T, v *vm.VM, mnt string) {
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

// treeManifest prints one line per entry of the tree at dir (type, mode,
// owner, size, link count, mtime in ns, symlink target), sorted, then the
// md5 of every non-empty file.  Directory sizes are left out: they belong
// to each file system.  Of the subdirectory NAMESONLY only the names count
// (stat of 10,000 entries is a minute of RPCs under TCG; bigdir checks
// them).  The trees here have no blanks in names.
const treeManifest = `manifest() ( # manifest DIR [NAMESONLY]
	cd "$1"
	find . ${2:+-path ./$2 -prune -o} \( -type f -printf '%P f %m %U:%G %s %n %T@\n' \) \
		-o \( -type d -printf '%P d %m %U:%G %T@\n' \) -o \( -type l -printf '%P l %l\n' \) |
		LC_ALL=C sort >/tmp/manifest.$$
	cat /tmp/manifest.$$
	awk '$2 == "f" && $5 > 0 { print $1 }' /tmp/manifest.$$ | xargs -r md5sum
	rm /tmp/manifest.$$
	if [ -n "${2:-}" ]; then ls -f "$2" | LC_ALL=C sort | md5sum | sed "s|-|$2 names|"; fi
)
`

// cp -a of a 1,000-file tree into the mount: no error, diff -r equal, and
// the same metadata (cp -a keeps modes and times).
func testCopyTree(t *testing.T, v *vm.VM, mnt string) {
	// One bash process makes the source tree: printf is a builtin, so the
	// 1,000 files cost no fork each.
	r := v.MustExec(t, 10*time.Minute, treeManifest+`set -euo pipefail
step() { echo "$1 $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2; t0=$(date +%s%N); }
t0=$(date +%s%N)
rm -rf /tmp/src && mkdir /tmp/src && cd /tmp/src
for d in $(seq 0 9); do
	mkdir d$d
	for f in $(seq -w 0 99); do
		printf 'file %s/%s %0*d\n' $d $f $((10#$f * 37 + d)) 0 > d$d/f$f
	done
done
chmod 0600 d3/f07; chmod 0755 d4/f44; chmod 0700 d5
ln -s d0/f00 link
touch -d @1000000000.5 d9/f99
manifest /tmp/src > /tmp/m.src
step source
cp -a /tmp/src `+mnt+`/tree
step cp-a
diff -r /tmp/src `+mnt+`/tree && echo diff-equal
step diff-r
`+dropCaches+`
manifest `+mnt+`/tree > /tmp/m.nfs
step manifest
diff /tmp/m.src /tmp/m.nfs >&2 && echo manifest-equal
find `+mnt+`/tree -type f | wc -l
wc -l < /tmp/m.src`)
	t.Logf("steps: %s", strings.ReplaceAll(strings.TrimSpace(string(r.Stderr)), "\n", ", "))
	if want := lines("diff-equal", "manifest-equal", "1000", "2012"); string(r.Stdout) != want {
		t.Fatalf("cp -a: got\n%swant\n%s", r.Stdout, want)
	}
}

// A 10,000-entry directory, created by one process, listed exactly: every
// name once, with a warm and with a cold client cache.
func testBigDir(t *testing.T, v *vm.VM, mnt string) {
	const n = 10000
	dir := mnt + "/big"
	// A loop of bash builtins: one process, one open(O_CREAT) per entry.
	// (A Go program does the same about half as fast under TCG: every
	// blocking system call hands its P to another thread.)
	t0 := time.Now()
	sh(t, v, 15*time.Minute, `mkdir `+dir+` && cd `+dir+` && for ((i = 0; i < `+strconv.Itoa(n)+`; i++)); do : > entry-$i; done`)
	t.Logf("created %d files in %v", n, time.Since(t0).Round(time.Millisecond))
	res := mustProbe(t, v, 5*time.Minute, probeOp{"op": "readdir", "path": dir})
	want := make([]string, n)
	for i := range want {
		want[i] = "entry-" + strconv.Itoa(i)
	}
	sort.Strings(want)
	checkNames := func(when string, got []string) {
		t.Helper()
		got = append([]string(nil), got...)
		sort.Strings(got)
		if len(got) != n {
			t.Errorf("%s: %d entries, want %d", when, len(got), n)
		}
		for i := 0; i < len(got) && i < n; i++ {
			if got[i] != want[i] {
				t.Errorf("%s: sorted entry %d is %q, want %q", when, i, got[i], want[i])
				return
			}
		}
	}
	checkNames("warm listing", res[0].Names)

	sh(t, v, time.Minute, dropCaches)
	res = mustProbe(t, v, 5*time.Minute, probeOp{"op": "readdir", "path": dir})
	checkNames("cold listing", res[0].Names)
	expectSh(t, v, 5*time.Minute, `ls -f `+dir+` | grep -c '^entry-'; ls `+dir+` | tail -1`,
		lines(strconv.Itoa(n), "entry-9999"))
}

// Everything so far looks the same after the client forgets it all.
func testRemount(t *testing.T, v *vm.VM, mnt, mountCmd string) {
	r := v.MustExec(t, 10*time.Minute, treeManifest+`set -euo pipefail
step() { echo "$1 $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2; t0=$(date +%s%N); }
t0=$(date +%s%N)
manifest `+mnt+` big > /tmp/m.before
step manifest
umount `+mnt+`
`+mountCmd+`
step remount
manifest `+mnt+` big > /tmp/m.after
step manifest
diff /tmp/m.before /tmp/m.after >&2 && echo equal
grep -c . /tmp/m.after`)
	t.Logf("steps: %s", strings.ReplaceAll(strings.TrimSpace(string(r.Stderr)), "\n", ", "))
	// 1,013 entries and 1,002 checksums from copytree and the steps
	// before it, plus the names of big.
	if got := string(r.Stdout); !strings.HasPrefix(got, "equal\n") {
		t.Fatalf("the tree changed across a remount:\n%s", r)
	}
}

// File contents survive kill -9 of the server and a restart on the same
// data directory while the client stays mounted: an application writing
// and fsyncing through the hard mount sees no error, and every byte is
// there afterwards.
func testKill9(t *testing.T, v *vm.VM, srv crashable, mnt string) {
	const (
		size = 6 << 20
		seed = 42
	)
	progress := filepath.Join(v.ShareDir(), "kill9-progress")
	_ = os.Remove(progress)
	// what the earlier steps left (the 1,000-file tree) must survive too
	treeState := func(file string) string {
		return treeManifest + `if [ -d ` + mnt + `/tree ]; then manifest ` + mnt + `/tree; fi > ` + file
	}
	sh(t, v, 5*time.Minute, "mkdir "+mnt+"/crash\n"+treeState("/tmp/m.prekill"))

	type outcome struct {
		res []probeResult
		err error
	}
	done := make(chan outcome, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	go func() {
		res, err := runProbe(ctx, v,
			probeOp{"op": "writepattern", "path": mnt + "/crash/w", "size": size, "chunk": 64 << 10,
				"seed": seed, "fsync": true, "ms": 20, "progress": "/host/kill9-progress"},
			probeOp{"op": "verifypattern", "path": mnt + "/crash/w", "size": size, "seed": seed},
		)
		done <- outcome{res, err}
	}()

	// kill once a third is written and fsynced
	deadline := time.Now().Add(5 * time.Minute)
	for {
		b, _ := os.ReadFile(progress)
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if n >= size/3 {
			t.Logf("killing the server at %s of %s", fmtBytes(int64(n)), fmtBytes(size))
			break
		}
		select {
		case o := <-done:
			t.Fatalf("the writer ended before the kill (progress %d): %v %v", n, o.res, o.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer made no progress: %d bytes", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	killed := time.Now()
	srv.kill9(t)
	srv.start(t)
	t.Logf("server restarted %v after the kill", time.Since(killed).Round(time.Millisecond))

	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		t.Fatalf("writer not done 10 minutes after it started; server log since the restart:\n%s", srv.lastLog())
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	t.Logf("writer done %v after the kill", time.Since(killed).Round(time.Millisecond))
	if len(o.res) != 2 || !o.res[0].OK || o.res[0].N != size || !o.res[1].OK {
		t.Fatalf("the application saw an error across the restart: %v\nserver log after restart:\n%s", o.res, srv.lastLog())
	}

	sh(t, v, time.Minute, dropCaches)
	res := mustProbe(t, v, 5*time.Minute,
		probeOp{"op": "verifypattern", "path": mnt + "/crash/w", "size": size, "seed": seed})
	if res[0].N != size {
		t.Fatalf("verify after restart: %s", res[0])
	}
	sh(t, v, 5*time.Minute, treeState("/tmp/m.postkill")+"\ndiff /tmp/m.prekill /tmp/m.postkill")
}
