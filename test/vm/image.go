package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The guest recipe.  Its hash names the cached image, so editing any file
// under image/ leads to a new build on the next run.
//
//go:embed image
var recipe embed.FS

// Image is a built guest, ready to boot.
type Image struct {
	Dir    string // the cache entry
	Kernel string // uncompressed vmlinux (PVH entry point)
	Initrd string
	Rootfs string // ext4, never written: QEMU opens it with snapshot=on
}

// DefaultCacheDir is where images are kept unless Options.CacheDir says
// otherwise: $TANDEM_VM_CACHE, or /var/tmp/tandem-vm-cache.
func DefaultCacheDir() string {
	if d := os.Getenv("TANDEM_VM_CACHE"); d != "" {
		return d
	}
	return "/var/tmp/tandem-vm-cache"
}

// RecipeKey is the hash of the guest recipe that names its image in the cache.
func RecipeKey() string {
	var names []string
	_ = fs.WalkDir(recipe, "image", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, _ := recipe.ReadFile(n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func imageAt(dir string) *Image {
	return &Image{
		Dir:    dir,
		Kernel: filepath.Join(dir, "vmlinux"),
		Initrd: filepath.Join(dir, "initrd.img"),
		Rootfs: filepath.Join(dir, "rootfs.ext4"),
	}
}

func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".complete"))
	return err == nil
}

// EnsureImage returns the cached image of the current recipe, building it
// first if needed (about a minute and a half, most of it debootstrap; the
// kernel package and the debootstrap tarball are cached separately, so a
// recipe change costs seconds).  Concurrent callers, in this process or in
// other test binaries, wait for one build.  logf, if not nil, receives
// progress lines.
func EnsureImage(ctx context.Context, cacheDir string, logf func(string, ...any)) (*Image, error) {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dir := filepath.Join(cacheDir, "image-"+RecipeKey())
	if complete(dir) {
		return imageAt(dir), nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lock.Close() // releases the flock
	logf("vm: waiting for the image build lock %s", lock.Name())
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	if complete(dir) { // built by someone else meanwhile
		return imageAt(dir), nil
	}
	if err := checkBuildTools(); err != nil {
		return nil, err
	}

	src, err := os.MkdirTemp(cacheDir, "recipe.")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(src)
	if err := writeRecipe(src); err != nil {
		return nil, err
	}
	logPath := filepath.Join(cacheDir, "build.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	var tail tailBuffer
	cmd := exec.CommandContext(ctx, "/bin/bash", filepath.Join(src, "build-image.sh"), dir, cacheDir)
	cmd.Stdout = &tail
	cmd.Stderr = &tail
	tail.w = logFile
	logf("vm: building the guest image %s (log: %s)", dir, logPath)
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building the guest image failed (%v); end of %s:\n%s", err, logPath, tail.String())
	}
	if !complete(dir) {
		return nil, fmt.Errorf("image build finished but %s is incomplete; see %s", dir, logPath)
	}
	logf("vm: image built in %.1fs", time.Since(t0).Seconds())
	pruneCache(cacheDir, dir)
	return imageAt(dir), nil
}

// pruneCache removes the images of other recipes and what crashed builds
// left behind; the caller holds the build lock.  A VM still running from an
// old image is not disturbed: its QEMU keeps the unlinked files open.
func pruneCache(cacheDir, keep string) {
	for _, pat := range []string{"image-*", "work.*", "recipe.*"} {
		old, _ := filepath.Glob(filepath.Join(cacheDir, pat))
		for _, d := range old {
			if d != keep {
				_ = os.RemoveAll(d)
			}
		}
	}
}

func writeRecipe(dst string) error {
	entries, err := recipe.ReadDir("image")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := recipe.ReadFile("image/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// tailBuffer copies everything to w and keeps the last few KiB for error
// messages.
type tailBuffer struct {
	w   *os.File
	buf []byte
}

const tailMax = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	if t.w != nil {
		_, _ = t.w.Write(p)
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	b := t.buf
	if len(b) > tailMax {
		b = b[len(b)-tailMax:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}
