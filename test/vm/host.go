package vm

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// InstallHint is the command that installs what CheckHost finds missing.
const InstallHint = "./test/install-deps.sh (as root)"

// requirement is one thing the host must have: a command on PATH, or a file.
type requirement struct {
	what    string // command name, or absolute path
	pkg     string // the Debian package that provides it
	isFile  bool
	extraOK func(path string) error
}

var runRequirements = []requirement{
	{what: "qemu-system-x86_64", pkg: "qemu-system-x86"},
	{what: "go", pkg: "the Go toolchain (builds the guest tools)"},
	{what: "/dev/net/tun", pkg: "the tun driver", isFile: true},
}

var buildRequirements = []requirement{
	{what: "debootstrap", pkg: "debootstrap"},
	{what: "cpio", pkg: "cpio"},
	{what: "mke2fs", pkg: "e2fsprogs"},
	{what: "modprobe", pkg: "kmod"},
	{what: "depmod", pkg: "kmod"},
	{what: "xz", pkg: "xz-utils"},
	{what: "dpkg-deb", pkg: "dpkg"},
	{what: "apt-get", pkg: "apt"},
	{what: "/bin/busybox", pkg: "busybox-static", isFile: true, extraOK: staticELF},
}

// CheckHost reports what this host lacks to boot a VM with opts: root, the
// run-time tools, and the image build tools unless the image of the current
// recipe is already cached.  The error names the Debian packages to install.
func CheckHost(opts Options) error {
	var problems []string
	if os.Geteuid() != 0 {
		problems = append(problems, "must run as root (network namespace, tap device)")
	}
	reqs := runRequirements
	cache := opts.CacheDir
	if cache == "" {
		cache = DefaultCacheDir()
	}
	if !complete(filepath.Join(cache, "image-"+RecipeKey())) {
		reqs = append(reqs[:len(reqs):len(reqs)], buildRequirements...)
	}
	problems = append(problems, missing(reqs)...)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("the VM test harness cannot run on this host:\n  %s\ninstall with: %s",
		strings.Join(problems, "\n  "), InstallHint)
}

func checkBuildTools() error {
	if p := missing(buildRequirements); len(p) > 0 {
		return fmt.Errorf("cannot build the guest image:\n  %s\ninstall with: %s",
			strings.Join(p, "\n  "), InstallHint)
	}
	return nil
}

func missing(reqs []requirement) []string {
	var out []string
	for _, r := range reqs {
		path := r.what
		var err error
		if r.isFile {
			_, err = os.Stat(path)
		} else {
			path, err = exec.LookPath(r.what)
		}
		if err == nil && r.extraOK != nil {
			err = r.extraOK(path)
		}
		if err != nil {
			out = append(out, fmt.Sprintf("%s (%s): %v", r.what, r.pkg, err))
		}
	}
	return out
}

// staticELF insists on a statically linked binary: busybox runs in the
// initramfs, where there is no libc.
func staticELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked; busybox-static is needed")
		}
	}
	return nil
}
