package smb

import (
	"encoding/binary"
	"testing"
)

// TestChannelSequence: in 3.x a WRITE, SET_INFO or IOCTL carrying a
// ChannelSequence older than the open's is refused with
// STATUS_FILE_NOT_AVAILABLE, a newer one moves the open's on, and other
// commands run whatever they carry.
func TestChannelSequence(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect30("alice", alicePass, "")
	seq := func(n uint16, replay bool) func(h *Header) {
		return func(h *Header) {
			h.Status = Status(n)
			if replay {
				h.Flags |= FlagReplay
			}
		}
	}
	r := c.call(CmdCreate, createReq{name: "f", access: rw, share: shareAll, disp: dispCreate}.body(), seq(0x9000, false))
	id := decodeCreate(t, r).ID
	eof := setInfoBody(id, infoFile, classFileEndOfFile, binary.LittleEndian.AppendUint64(nil, 10), 0)
	zero := ioctlBody(id, fsctlSetZeroData, make([]byte, 16), 0)
	for _, tc := range []struct {
		what string
		body []byte
		cmd  Command
		seq  uint16
		rep  bool
		want Status
	}{
		{"WRITE under the CREATE's sequence", writeBody(id, 0, []byte("a"), 0), CmdWrite, 0x9000, false, StatusSuccess},
		{"WRITE under a newer one", writeBody(id, 0, []byte("b"), 0), CmdWrite, 0x9002, false, StatusSuccess},
		{"WRITE under the older one", writeBody(id, 0, []byte("c"), 0), CmdWrite, 0x9001, false, StatusFileNotAvailable},
		{"SET_INFO under the older one", eof, CmdSetInfo, 0x9000, false, StatusFileNotAvailable},
		{"IOCTL under the older one", zero, CmdIoctl, 0x1003, false, StatusFileNotAvailable},
		{"READ under the older one", readBody(id, 0, 1), CmdRead, 0x9001, false, StatusSuccess},
		{"a replayed WRITE under the current one", writeBody(id, 1, []byte("d"), 0), CmdWrite, 0x9002, true, StatusSuccess},
		{"SET_INFO under the current one", eof, CmdSetInfo, 0x9002, false, StatusSuccess},
		{"IOCTL wrapping round to a newer one", zero, CmdIoctl, 0x0001, false, StatusSuccess},
		{"WRITE under the one before the wrap", writeBody(id, 0, []byte("e"), 0), CmdWrite, 0x9002, false, StatusFileNotAvailable},
	} {
		if r := c.call(tc.cmd, tc.body, seq(tc.seq, tc.rep)); r.Status != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, r.Status, tc.want)
		}
	}
	if b, _ := c.read(id, 0, 10); string(b[:2]) != "bd" {
		t.Errorf("the file holds %q: a refused WRITE was carried out", b)
	}
}

// TestNetworkInterfacesFileID: FSCTL_QUERY_NETWORK_INTERFACE_INFO names
// no file; a FileId other than all ones is STATUS_INVALID_PARAMETER.
func TestNetworkInterfacesFileID(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	if _, st := c.ioctl(id, fsctlQueryNetworkIfInfo, nil, 65536); st != StatusInvalidParameter {
		t.Errorf("on a file's FileId: %v", st)
	}
	if _, st := c.ioctl(FileID{}, fsctlQueryNetworkIfInfo, nil, 65536); st != StatusInvalidParameter {
		t.Errorf("on FileId zero: %v", st)
	}
	if _, st := c.ioctl(relatedFileID, fsctlQueryNetworkIfInfo, nil, 65536); st != StatusSuccess {
		t.Errorf("on FileId all ones: %v", st)
	}
}
