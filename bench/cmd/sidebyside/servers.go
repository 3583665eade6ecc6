package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hirochachacha/go-smb2"

	"github.com/tandemfs/tandem/test/testserver"
)

// The account every SMB client logs in with, on Samba and on Tandem.
const (
	smbUser     = "tandembench"
	smbPassword = "tandembench-pass"
	shareName   = "export"
)

// Fixed ports of the peers (those the peers' baselines were taken on).
const (
	sambaPort       = 4450
	ganeshaNFSPort  = 20490
	ganeshaMNTPort  = 20048
	ganeshaNLMPort  = 20045
	statdPort       = 20046
	statdOutPort    = 20047
	rpcProgNLM      = 100021
	rpcVersNLM      = 4
	nlmProcNull     = 0
	serverStartWait = 60 * time.Second
)

// server is one file server under test and how to reach it.
type server struct {
	Name string
	NFS  *nfsTarget // nil: does not speak NFS
	SMB  *smbTarget // nil: does not speak SMB
	// Why a protocol or the locking over it is not served yet; empty when
	// it is.
	NFSNotServed, SMBNotServed, NLMNotServed string
	// cpuRoots are the processes (and their descendants) whose CPU time
	// counts as the server's.
	cpuRoots []int
	version  string
	// pprofAddr is where tandemprof takes profiling requests; empty when
	// the server is not profiled.
	pprofAddr string
	// parts split the CPU time by process, and counters are other
	// cumulative counts, both recorded per run as differences (in
	// runRecord.Detail); nil for servers that are one process.
	parts    []cpuPart
	counters func() map[string]float64
	// only and clients restrict the server to some workloads and clients;
	// nil: all.
	only, clients map[string]bool
	// sizes, when set, gives the server's sizes from the run's.
	sizes func(sizes) sizes
}

// cpuPart is one named group of a server's processes.
type cpuPart struct {
	name  string
	roots []int
}

type nfsTarget struct {
	Host                        string
	NFSPort, MountPort, NLMPort int
	Export                      string
}

// url is the libnfs URL of the export, ports given so that libnfs skips
// the portmapper.
func (t *nfsTarget) url() string {
	return fmt.Sprintf("nfs://%s%s?nfsport=%d&mountport=%d", t.Host, t.Export, t.NFSPort, t.MountPort)
}

type smbTarget struct {
	Host     string
	Port     int
	Share    string
	User     string
	Password string
}

func (t *smbTarget) addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

func (s *server) describe() string {
	var parts []string
	if s.NFS != nil {
		p := fmt.Sprintf("NFSv3 %s:%d (mount %d, NLM %d)", s.NFS.Host, s.NFS.NFSPort, s.NFS.MountPort, s.NFS.NLMPort)
		if s.NLMNotServed != "" {
			p += "; NLM not yet served: " + s.NLMNotServed
		}
		parts = append(parts, p)
	}
	if s.SMB != nil {
		if s.SMBNotServed != "" {
			parts = append(parts, "SMB not yet served: "+s.SMBNotServed)
		} else {
			parts = append(parts, fmt.Sprintf("SMB %s share %s", s.SMB.addr(), s.SMB.Share))
		}
	}
	return strings.Join(parts, "; ")
}

// notServed says why workload w of a client speaking proto cannot run
// against s; empty when it can.
func (s *server) notServed(proto, w string) string {
	switch proto {
	case "nfs":
		if s.NFSNotServed != "" {
			return s.NFSNotServed
		}
		if (w == "lock" || w == "lock-anchored") && s.NLMNotServed != "" {
			return s.NLMNotServed
		}
	case "smb":
		return s.SMBNotServed
	}
	return ""
}

func (s *server) speaks(proto string) bool {
	return (proto == "nfs" && s.NFS != nil) || (proto == "smb" && s.SMB != nil)
}

// freePort asks the kernel for a loopback port nobody uses right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startTandem starts `tandem serve` on the embedded default stores with
// NFS (and MOUNT and NLM) on one ephemeral port and SMB on another. SMB and
// NLM are then tried: what does not answer is marked not yet served.
func startTandem(cfg *config, procs *procSet) (*server, error) {
	data := filepath.Join(cfg.work, "tandem")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	s := &server{Name: "tandem", version: tandemVersion(cfg.tandemBin)}
	smbPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s.SMB = &smbTarget{Host: "127.0.0.1", Port: smbPort, Share: shareName, User: smbUser, Password: smbPassword}
	// The SMB account has to exist before the server starts.
	if out, err := runCmd(30*time.Second, []byte(smbPassword+"\n"), cfg.tandemBin, "user", "add", smbUser, "--password-stdin", "--data", data); err != nil {
		s.SMBNotServed = "`tandem user add` failed: " + firstLine(out, err)
	}
	testserver.StartTimeout = serverStartWait
	serve := cfg.tandemBin
	if cfg.profile {
		serve = cfg.tandemProf
	}
	p, err := testserver.Start(serve, data, "--smb-port", strconv.Itoa(smbPort))
	if err != nil {
		return nil, err
	}
	if m := pprofLine.FindStringSubmatch(p.Log()); m != nil {
		s.pprofAddr = m[1]
	}
	procs.add(&proc{name: "tandem", stop: func(timeout time.Duration) {
		if err := p.Stop(timeout); err != nil {
			fmt.Fprintf(os.Stderr, "tandem stop: %v\n", err)
		}
	}})
	s.cpuRoots = []int{p.Pid()}
	s.NFS = &nfsTarget{Host: "127.0.0.1", NFSPort: p.Port, MountPort: p.Port, NLMPort: p.Port, Export: "/export"}
	if err := probeNLM(s.NFS); err != nil {
		s.NLMNotServed = err.Error()
	}
	if s.SMBNotServed == "" {
		if err := probeSMB(s.SMB); err != nil {
			s.SMBNotServed = err.Error()
			if strings.Contains(p.Log(), "SMB not yet served") {
				s.SMBNotServed = "the server logs \"SMB not yet served\""
			}
		}
	}
	return s, nil
}

var pprofLine = regexp.MustCompile(`msg=listening service=pprof addr=(\S+)`)

func tandemVersion(bin string) string {
	out, err := runCmd(10*time.Second, nil, bin, "version")
	if err != nil {
		return "tandem (this commit)"
	}
	return strings.TrimSpace(firstLine(out, nil))
}

// probeNLM makes an NLM4 NULL call on the NLM port.
func probeNLM(t *nfsTarget) error {
	c, err := testserver.Dial(net.JoinHostPort(t.Host, strconv.Itoa(t.NLMPort)))
	if err != nil {
		return fmt.Errorf("NLM port: %v", err)
	}
	defer c.Close()
	c.Timeout = 5 * time.Second
	if _, err := c.Call(rpcProgNLM, rpcVersNLM, nlmProcNull); err != nil {
		return fmt.Errorf("NLM4 NULL: %v", err)
	}
	return nil
}

// probeSMB logs in and connects to the share with the Go SMB client.
func probeSMB(t *smbTarget) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", t.addr())
	if err != nil {
		return fmt.Errorf("SMB: %v", err)
	}
	defer nc.Close()
	d := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: t.User, Password: t.Password}}
	sess, err := d.DialContext(ctx, nc)
	if err != nil {
		return fmt.Errorf("SMB session: %v", err)
	}
	defer sess.Logoff()
	sh, err := sess.WithContext(ctx).Mount(t.Share)
	if err != nil {
		return fmt.Errorf("SMB tree connect: %v", err)
	}
	return sh.Umount()
}

func firstLine(out []byte, err error) string {
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" && err != nil {
		s = err.Error()
	}
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// smbConf is Samba's configuration: a standalone server for one account,
// every state directory under the work directory (nothing in /etc/samba or
// /var/lib/samba is read or written), and the locking and metadata
// settings the peers' baselines were taken with, since they change what a
// CREATE and a LOCK cost.
const smbConf = `[global]
	server role = standalone server
	security = user
	map to guest = never
	passdb backend = tdbsam:{{dir}}/private/passdb.tdb
	smb ports = {{port}}
	{{listen}}
	disable netbios = yes
	server min protocol = SMB2_02
	server max protocol = SMB3_11
	private dir = {{dir}}/private
	lock directory = {{dir}}/lock
	state directory = {{dir}}/state
	cache directory = {{dir}}/cache
	pid directory = {{dir}}/pid
	ncalrpc dir = {{dir}}/ncalrpc
	log file = {{dir}}/log/log.%m
	log level = 1
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
	kernel oplocks = no
	kernel share modes = no
	posix locking = no
	smb2 leases = yes
	durable handles = yes
	vfs objects = acl_xattr streams_xattr
	ea support = yes
	store dos attributes = yes
	kernel change notify = no
	create mask = 0666
	directory mask = 0777

[{{share}}]
	path = {{dir}}/share
	read only = no
	guest ok = no
	valid users = {{user}}
`

// startSamba starts smbd in the foreground with the configuration above
// and an smbpasswd entry for the bench account (a Unix account of that
// name is created if missing, without a home directory or a login shell).
func startSamba(cfg *config, procs *procSet) (*server, error) {
	dir := filepath.Join(cfg.work, "samba")
	for _, d := range []string{"private", "lock", "state", "cache", "pid", "ncalrpc", "log", "share"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "share"), 0o777); err != nil {
		return nil, err
	}
	listen := "interfaces = 127.0.0.1\n\tbind interfaces only = yes"
	conf := strings.NewReplacer("{{dir}}", dir, "{{port}}", strconv.Itoa(sambaPort), "{{listen}}", listen,
		"{{share}}", shareName, "{{user}}", smbUser).Replace(smbConf)
	confPath := filepath.Join(dir, "smb.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if _, err := user.Lookup(smbUser); err != nil {
		if out, err := runCmd(30*time.Second, nil, "useradd", "-M", "-s", "/usr/sbin/nologin", smbUser); err != nil {
			return nil, fmt.Errorf("useradd %s: %v: %s", smbUser, err, out)
		}
	}
	pw := []byte(smbPassword + "\n" + smbPassword + "\n")
	if out, err := runCmd(30*time.Second, pw, "smbpasswd", "-c", confPath, "-s", "-a", smbUser); err != nil {
		return nil, fmt.Errorf("smbpasswd: %v: %s", err, out)
	}
	p, err := procs.start("smbd", filepath.Join(dir, "log", "smbd.out"),
		"smbd", "--foreground", "--no-process-group", "--debug-stdout", "-d", "1", "-s", confPath)
	if err != nil {
		return nil, err
	}
	s := &server{Name: "samba", cpuRoots: []int{p.pid()}, version: debVersion("samba")}
	s.SMB = &smbTarget{Host: "127.0.0.1", Port: sambaPort, Share: shareName, User: smbUser, Password: smbPassword}
	if err := waitListening(p, s.SMB.addr(), serverStartWait); err != nil {
		return nil, fmt.Errorf("%v; see %s", err, filepath.Join(dir, "log"))
	}
	if err := probeSMB(s.SMB); err != nil {
		return nil, err
	}
	return s, nil
}

// ganeshaConf is NFS-Ganesha's configuration: NFSv3 with MOUNT and NLM on
// fixed TCP ports, no UDP or RQUOTA, no grace period at start (there is
// nothing to recover), and one export of a directory on local disk through
// FSAL_VFS, root not squashed.
const ganeshaConf = `NFS_CORE_PARAM {
	{{bind}}
	NFS_Port = {{nfsport}};
	MNT_Port = {{mntport}};
	NLM_Port = {{nlmport}};
	Protocols = 3, 4;
	Enable_NLM = true;
	Enable_RQUOTA = false;
	Enable_UDP = false;
	mount_path_pseudo = true;
}
NFSV4 {
	Graceless = true;
	RecoveryBackend = fs;
	RecoveryRoot = {{dir}}/recovery;
}
NFS_KRB5 {
	Active_krb5 = false;
}
EXPORT {
	Export_Id = 1;
	Path = {{dir}}/export;
	Pseudo = /export;
	Access_Type = RW;
	Squash = No_Root_Squash;
	SecType = sys;
	Protocols = 3, 4;
	Transports = TCP;
	FSAL {
		Name = VFS;
	}
}
LOG {
	Default_Log_Level = EVENT;
}
`

// startGanesha starts rpcbind (Ganesha will not start without a
// portmapper to register with), rpc.statd (without it every NLM lock is
// refused) and ganesha.nfsd, all in the foreground.
func startGanesha(cfg *config, procs *procSet) (*server, error) {
	dir := filepath.Join(cfg.work, "ganesha")
	for _, d := range []string{"export", "recovery", "log", "statd/sm", "statd/sm.bak"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "export"), 0o777); err != nil {
		return nil, err
	}
	// rpcbind drops to the _rpc user and keeps its state in /run/rpcbind.
	if err := os.MkdirAll("/run/rpcbind", 0o755); err != nil {
		return nil, err
	}
	rb, err := procs.start("rpcbind", filepath.Join(dir, "log", "rpcbind.out"), "rpcbind", "-f")
	if err != nil {
		return nil, err
	}
	if err := waitListening(rb, "127.0.0.1:111", 20*time.Second); err != nil {
		return nil, fmt.Errorf("rpcbind: %v (another portmapper on this machine? run.sh runs everything in a private network namespace)", err)
	}
	if _, err := user.Lookup("statd"); err == nil {
		_, _ = runCmd(10*time.Second, nil, "chown", "-R", "statd", filepath.Join(dir, "statd"))
	}
	sd, err := procs.start("rpc.statd", filepath.Join(dir, "log", "statd.out"),
		"rpc.statd", "-F", "-L", "-P", filepath.Join(dir, "statd"),
		"-p", strconv.Itoa(statdPort), "-o", strconv.Itoa(statdOutPort))
	if err != nil {
		return nil, err
	}
	if err := waitListening(sd, net.JoinHostPort("127.0.0.1", strconv.Itoa(statdPort)), 20*time.Second); err != nil {
		return nil, fmt.Errorf("rpc.statd: %v", err)
	}
	// Ganesha resolves Bind_addr with AI_ADDRCONFIG, which fails where
	// loopback is the only interface; there the wildcard address is
	// loopback anyway.
	bind := "Bind_addr = 127.0.0.1;"
	if cfg.netns {
		bind = "# Bind_addr: the wildcard; this network namespace has only a loopback interface"
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{bind}}", bind,
		"{{nfsport}}", strconv.Itoa(ganeshaNFSPort), "{{mntport}}", strconv.Itoa(ganeshaMNTPort),
		"{{nlmport}}", strconv.Itoa(ganeshaNLMPort)).Replace(ganeshaConf)
	confPath := filepath.Join(dir, "ganesha.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	g, err := procs.start("ganesha.nfsd", filepath.Join(dir, "log", "ganesha.out"),
		"ganesha.nfsd", "-F", "-f", confPath, "-L", filepath.Join(dir, "log", "ganesha.log"),
		"-p", filepath.Join(dir, "ganesha.pid"), "-N", "NIV_EVENT")
	if err != nil {
		return nil, err
	}
	s := &server{Name: "ganesha", cpuRoots: []int{g.pid(), sd.pid(), rb.pid()}, version: debVersion("nfs-ganesha")}
	s.NFS = &nfsTarget{Host: "127.0.0.1", NFSPort: ganeshaNFSPort, MountPort: ganeshaMNTPort, NLMPort: ganeshaNLMPort, Export: "/export"}
	for _, port := range []int{ganeshaNFSPort, ganeshaMNTPort, ganeshaNLMPort} {
		if err := waitListening(g, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), serverStartWait); err != nil {
			return nil, fmt.Errorf("%v; see %s", err, filepath.Join(dir, "log", "ganesha.log"))
		}
	}
	if err := waitMountable(s.NFS, 30*time.Second); err != nil {
		return nil, err
	}
	if err := probeNLM(s.NFS); err != nil {
		return nil, err
	}
	return s, nil
}

// waitMountable retries MOUNT until the export answers: Ganesha listens
// before its exports are ready.
func waitMountable(t *nfsTarget, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		c, err := testserver.Dial(net.JoinHostPort(t.Host, strconv.Itoa(t.MountPort)))
		if err == nil {
			c.Timeout = 5 * time.Second
			_, err = c.Mount(t.Export)
			c.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("MOUNT %s: %v", t.Export, last)
}

func debVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil {
		return pkg
	}
	return pkg + " " + string(bytes.TrimSpace(out))
}
