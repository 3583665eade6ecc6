package smb

import (
	"encoding/binary"
	"errors"
)

// HeaderSize is the length of an SMB2 message header.
const HeaderSize = 64

// The first four bytes of each kind of message.
var (
	protoSMB2      = [4]byte{0xfe, 'S', 'M', 'B'}
	protoTransform = [4]byte{0xfd, 'S', 'M', 'B'}
	protoSMB1      = [4]byte{0xff, 'S', 'M', 'B'}
)

// Command is an SMB2 command code.
type Command uint16

// The commands.
const (
	CmdNegotiate      Command = 0x00
	CmdSessionSetup   Command = 0x01
	CmdLogoff         Command = 0x02
	CmdTreeConnect    Command = 0x03
	CmdTreeDisconnect Command = 0x04
	CmdCreate         Command = 0x05
	CmdClose          Command = 0x06
	CmdFlush          Command = 0x07
	CmdRead           Command = 0x08
	CmdWrite          Command = 0x09
	CmdLock           Command = 0x0a
	CmdIoctl          Command = 0x0b
	CmdCancel         Command = 0x0c
	CmdEcho           Command = 0x0d
	CmdQueryDirectory Command = 0x0e
	CmdChangeNotify   Command = 0x0f
	CmdQueryInfo      Command = 0x10
	CmdSetInfo        Command = 0x11
	CmdOplockBreak    Command = 0x12

	numCommands = 0x13
)

var commandNames = [numCommands]string{
	"NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT",
	"CREATE", "CLOSE", "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL",
	"ECHO", "QUERY_DIRECTORY", "CHANGE_NOTIFY", "QUERY_INFO", "SET_INFO",
	"OPLOCK_BREAK",
}

func (c Command) String() string {
	if c < numCommands {
		return commandNames[c]
	}
	return "UNKNOWN"
}

// Flags are the header flags.
type Flags uint32

// Header flags.
const (
	FlagResponse Flags = 0x00000001 // SMB2_FLAGS_SERVER_TO_REDIR
	FlagAsync    Flags = 0x00000002 // the header carries an AsyncId instead of a TreeId
	FlagRelated  Flags = 0x00000004 // related operation in a compound
	FlagSigned   Flags = 0x00000008
	FlagPriority Flags = 0x00000070 // mask of the 3.1.1 I/O priority
	FlagDFS      Flags = 0x10000000
	FlagReplay   Flags = 0x20000000
)

// Header is a decoded SMB2 header, sync or async form. In a request, Status
// holds the ChannelSequence (3.x) and is otherwise zero; Credits is the
// CreditRequest in a request and the CreditResponse in a response.
type Header struct {
	CreditCharge uint16
	Status       Status
	Command      Command
	Credits      uint16
	Flags        Flags
	NextCommand  uint32
	MessageID    uint64
	AsyncID      uint64 // FlagAsync only
	ProcessID    uint32 // sync only: echoed back, otherwise unused
	TreeID       uint32 // sync only
	SessionID    uint64
	Signature    [16]byte
}

var errHeader = errors.New("smb: malformed header")

// decodeHeader reads the 64-byte header at the start of b.
func decodeHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize || [4]byte(b[0:4]) != protoSMB2 || binary.LittleEndian.Uint16(b[4:]) != HeaderSize {
		return h, errHeader
	}
	h.CreditCharge = binary.LittleEndian.Uint16(b[6:])
	h.Status = Status(binary.LittleEndian.Uint32(b[8:]))
	h.Command = Command(binary.LittleEndian.Uint16(b[12:]))
	h.Credits = binary.LittleEndian.Uint16(b[14:])
	h.Flags = Flags(binary.LittleEndian.Uint32(b[16:]))
	h.NextCommand = binary.LittleEndian.Uint32(b[20:])
	h.MessageID = binary.LittleEndian.Uint64(b[24:])
	if h.Flags&FlagAsync != 0 {
		h.AsyncID = binary.LittleEndian.Uint64(b[32:])
	} else {
		h.ProcessID = binary.LittleEndian.Uint32(b[32:])
		h.TreeID = binary.LittleEndian.Uint32(b[36:])
	}
	h.SessionID = binary.LittleEndian.Uint64(b[40:])
	copy(h.Signature[:], b[48:64])
	return h, nil
}

// encode writes h into the first 64 bytes of b.
func (h *Header) encode(b []byte) {
	_ = b[HeaderSize-1]
	copy(b[0:4], protoSMB2[:])
	binary.LittleEndian.PutUint16(b[4:], HeaderSize)
	binary.LittleEndian.PutUint16(b[6:], h.CreditCharge)
	binary.LittleEndian.PutUint32(b[8:], uint32(h.Status))
	binary.LittleEndian.PutUint16(b[12:], uint16(h.Command))
	binary.LittleEndian.PutUint16(b[14:], h.Credits)
	binary.LittleEndian.PutUint32(b[16:], uint32(h.Flags))
	binary.LittleEndian.PutUint32(b[20:], h.NextCommand)
	binary.LittleEndian.PutUint64(b[24:], h.MessageID)
	if h.Flags&FlagAsync != 0 {
		binary.LittleEndian.PutUint64(b[32:], h.AsyncID)
	} else {
		binary.LittleEndian.PutUint32(b[32:], h.ProcessID)
		binary.LittleEndian.PutUint32(b[36:], h.TreeID)
	}
	binary.LittleEndian.PutUint64(b[40:], h.SessionID)
	copy(b[48:64], h.Signature[:])
}

// transformSize is the length of the SMB2 TRANSFORM_HEADER that precedes
// an encrypted message.
const transformSize = 52

// transform is a decoded TRANSFORM_HEADER. The AEAD's associated data is
// the header from Nonce to the end (32 bytes); Signature is the AEAD tag.
type transform struct {
	Signature    [16]byte
	Nonce        [16]byte // the first 11 (CCM) or 12 (GCM) bytes are used
	OriginalSize uint32
	Flags        uint16 // 1: encrypted (3.1.1 name); EncryptionAlgorithm AES-128-CCM in 3.0
	SessionID    uint64
}

var errTransform = errors.New("smb: malformed transform header")

func decodeTransform(b []byte) (transform, error) {
	var t transform
	if len(b) < transformSize || [4]byte(b[0:4]) != protoTransform {
		return t, errTransform
	}
	copy(t.Signature[:], b[4:20])
	copy(t.Nonce[:], b[20:36])
	t.OriginalSize = binary.LittleEndian.Uint32(b[36:])
	t.Flags = binary.LittleEndian.Uint16(b[42:])
	t.SessionID = binary.LittleEndian.Uint64(b[44:])
	return t, nil
}

func (t *transform) encode(b []byte) {
	_ = b[transformSize-1]
	copy(b[0:4], protoTransform[:])
	copy(b[4:20], t.Signature[:])
	copy(b[20:36], t.Nonce[:])
	binary.LittleEndian.PutUint32(b[36:], t.OriginalSize)
	binary.LittleEndian.PutUint16(b[40:], 0)
	binary.LittleEndian.PutUint16(b[42:], t.Flags)
	binary.LittleEndian.PutUint64(b[44:], t.SessionID)
}

// FileID is an SMB2_FILEID: a persistent and a volatile part. The all-ones
// value in a related compound request means "the file of the previous
// request".
type FileID struct {
	Persistent uint64
	Volatile   uint64
}

// relatedFileID is the FileId a related compound request uses to name the
// previous request's file.
var relatedFileID = FileID{^uint64(0), ^uint64(0)}

// DecodeFileID reads a 16-byte FileId at the start of b; b must hold 16
// bytes.
func DecodeFileID(b []byte) FileID {
	return FileID{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])}
}

// Append appends the wire form of id.
func (id FileID) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, id.Persistent)
	return binary.LittleEndian.AppendUint64(b, id.Volatile)
}
