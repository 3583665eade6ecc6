//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/vm"
)

type ganesha struct {
	v    *vm.VM
	w    string
	n    int
	proc *vm.Process
}

func (g *ganesha) start(t *testing.T) {
	g.n++
	logf, _ := os.Create(filepath.Join(g.w, "out"+strconv.Itoa(g.n)))
	defer logf.Close()
	script := fmt.Sprintf(`mount -t tmpfs tmpfs /run && mkdir -p /run/rpcbind && chown _rpc /run/rpcbind
rpcbind -f -w & sleep 0.5
exec ganesha.nfsd -F -f %[1]s/ganesha.conf -L %[1]s/ganesha.log -p %[1]s/ganesha.pid -N NIV_EVENT`, g.w)
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := g.v.StartInNS(cmd)
	if err != nil {
		t.Fatal(err)
	}
	g.proc = p
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := g.v.WaitListening(ctx, g.v.HostIP()+":12049", p); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
}

func (g *ganesha) kill9(t *testing.T) {
	// kill ganesha itself (the sh exec'd into it)
	if err := g.proc.Signal(9); err != nil {
		t.Fatal(err)
	}
	g.proc.Wait(context.Background())
	g.proc.Stop(time.Second) // the rpcbind in its group
}

func (g *ganesha) lastLog() string {
	b, _ := os.ReadFile(filepath.Join(g.w, "ganesha.log"))
	return string(b)
}

func TestZZGanesha(t *testing.T) {
	v := client(t)
	w := t.TempDir()
	os.MkdirAll(w+"/export", 0o777)
	os.MkdirAll(w+"/recov", 0o777)
	os.WriteFile(w+"/ganesha.conf", []byte(fmt.Sprintf(`NFS_CORE_PARAM {
    NFS_Port = 12049; MNT_Port = 12050; NLM_Port = 12045;
    Enable_NLM = false; Enable_RQUOTA = false; Protocols = 3;
}
NFSv4 { Graceless = true; RecoveryRoot = "%[1]s/recov"; }
EXPORT {
    Export_Id = 1; Path = "%[1]s/export"; Pseudo = "/export"; Access_Type = RW;
    Squash = No_Root_Squash; SecType = sys; Protocols = 3; Transports = TCP;
    FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
`, w)), 0o644)
	g := &ganesha{v: v, w: w}
	t.Cleanup(func() {
		if g.proc != nil {
			g.proc.Stop(5 * time.Second)
		}
	})
	g.start(t)
	mnt := "/mnt/g"
	mount := fmt.Sprintf("mkdir -p %s && mount -t nfs -o vers=3,proto=tcp,port=12049,mountport=12050,mountproto=tcp,hard,nolock,noacl %s:%s/export %s", mnt, v.HostIP(), w, mnt)
	sh(t, v, 2*time.Minute, mount)
	t.Cleanup(func() { v.Exec(context.Background(), "umount -f -l "+mnt, nil) })
	t.Run("files", func(t *testing.T) { testFiles(t, v, mnt) })
	t.Run("rename", func(t *testing.T) { testRename(t, v, mnt) })
	t.Run("links", func(t *testing.T) { testLinks(t, v, mnt) })
	t.Run("attributes", func(t *testing.T) { testAttributes(t, v, mnt) })
	t.Run("directories", func(t *testing.T) { testDirectories(t, v, mnt) })
	t.Run("copytree", func(t *testing.T) { testCopyTree(t, v, mnt) })
	if os.Getenv("BIG") != "" {
		t.Run("bigdir", func(t *testing.T) { testBigDir(t, v, mnt) })
	}
	t.Run("remount", func(t *testing.T) { testRemount(t, v, mnt, mount) })
	t.Run("kill9", func(t *testing.T) { testKill9(t, v, g, mnt) })
}
