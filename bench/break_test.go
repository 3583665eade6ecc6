package bench

import (
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/smbclient"
	"github.com/tandemfs/tandem/test/testserver"
)

// BenchmarkCrossProtocolBreak times an NFS WRITE (and READ) of a file on
// which an SMB client holds a read-write-handle lease, from the NFS call to
// its reply: the server breaks the lease (to none for a WRITE, to
// read-handle for a READ), the SMB client acknowledges the break at once,
// as a real client with nothing to flush does, and only then is the NFS
// request served. Each round first opens the file over SMB with the lease
// (untimed) and closes it after the NFS reply (untimed). It reports the
// 50th and 99th percentiles of the timed part.
//
//	go test -run '^$' -bench CrossProtocolBreak -benchtime 500x ./bench/
func BenchmarkCrossProtocolBreak(b *testing.B) {
	p := smbNFSServer(b)
	nfs, err := testserver.Dial(p.NFSAddr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nfs.Close() })
	root, err := nfs.Mount("/export")
	if err != nil {
		b.Fatal(err)
	}
	fh, err := nfs.Create(root, "leased", 0o666)
	if err != nil {
		b.Fatal(err)
	}
	data := pattern(smallSize)
	if _, err := nfs.Write(fh, 0, data, testserver.FileSync); err != nil {
		b.Fatal(err)
	}
	smb, tree, err := smbclient.Connect(p.SMBAddr, smbclient.Options{}, smbUser, smbPassword, "export")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { smb.Close() })

	b.Run("write", func(b *testing.B) {
		breakRounds(b, tree, smbclient.LeaseNone, func() error {
			r, err := nfs.Write(fh, 0, data, testserver.Unstable)
			if err == nil && r.Count != uint32(len(data)) {
				err = fmt.Errorf("WRITE wrote %d of %d bytes", r.Count, len(data))
			}
			return err
		})
	})
	b.Run("read", func(b *testing.B) {
		buf := make([]byte, len(data))
		breakRounds(b, tree, smbclient.LeaseRead|smbclient.LeaseHandle, func() error {
			n, _, err := nfs.Read(fh, 0, buf)
			if err == nil && n != len(data) {
				err = fmt.Errorf("READ returned %d of %d bytes", n, len(data))
			}
			return err
		})
	})
}

// breakRounds runs b.N rounds of: open "leased" over SMB with an RWH
// lease, time nfsOp, check that exactly one break to want came and was
// acknowledged before nfsOp's reply, close the SMB open.
func breakRounds(b *testing.B, tree *smbclient.Tree, want smbclient.LeaseState, nfsOp func() error) {
	var key [16]byte
	rand.Read(key[:])
	// The acknowledging side: says that a break came, answers it at once
	// and says how that went. The server answers the NFS request only
	// after the acknowledgment, so the break must have come by then; the
	// response to the acknowledgment may come after the NFS reply.
	got := make(chan struct{}, 1)
	acked := make(chan error, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case br, ok := <-tree.Conn().Breaks():
				got <- struct{}{}
				if !ok {
					acked <- fmt.Errorf("SMB connection closed")
					return
				}
				acked <- ackBreak(tree, br, key, want)
			}
		}
	}()
	defer func() { close(stop); <-done }()

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		r, err := tree.Create("leased", smbclient.CreateRequest{
			OplockLevel:    smbclient.OplockLease,
			Lease:          &smbclient.LeaseRequest{Key: key, State: smbclient.LeaseRWH},
			DesiredAccess:  smbclient.AccessReadWrite,
			FileAttributes: smbclient.AttributeNormal,
			ShareAccess:    smbclient.ShareAll,
			Disposition:    smbclient.DispositionOpen,
			Options:        smbclient.OptionNonDirectory,
		})
		if err == nil && r.Status != smbclient.StatusSuccess {
			err = &smbclient.StatusError{Op: "CREATE", Status: r.Status}
		}
		if err != nil {
			b.Fatal(err)
		}
		if r.Lease == nil || r.Lease.State != smbclient.LeaseRWH {
			b.Fatalf("CREATE granted lease %+v, want RWH", r.Lease)
		}
		b.StartTimer()
		t0 := time.Now()
		err = nfsOp()
		d := time.Since(t0)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		select {
		case <-got:
		default:
			b.Fatal("the NFS reply came before the SMB client had the lease break")
		}
		select {
		case err := <-acked:
			if err != nil {
				b.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			b.Fatal("no response to the lease break acknowledgment")
		}
		lat = append(lat, d)
		if st, err := tree.Close(r.FileID); err != nil || st != smbclient.StatusSuccess {
			b.Fatalf("CLOSE: %v %v", st, err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
}

// ackBreak checks a break notification against the lease and the state
// expected, and acknowledges it with that state.
func ackBreak(tree *smbclient.Tree, br smbclient.Break, key [16]byte, want smbclient.LeaseState) error {
	switch {
	case !br.Lease || br.LeaseKey != key:
		return fmt.Errorf("unexpected break %+v", br)
	case br.CurrentState != smbclient.LeaseRWH || br.NewState != want:
		return fmt.Errorf("break from %v to %v, want RWH to %v", br.CurrentState, br.NewState, want)
	case !br.AckRequired:
		return fmt.Errorf("break from RWH without AckRequired")
	}
	if _, st, err := tree.AckLeaseBreak(key, want); err != nil || st != smbclient.StatusSuccess {
		return fmt.Errorf("lease break ack: %v %v", st, err)
	}
	return nil
}
