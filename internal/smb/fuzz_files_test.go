package smb

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzCreateContexts feeds arbitrary chains to the create context parser:
// it must never panic, and whatever it accepts must lie inside the chain
// (a context it returns aliases the input).
func FuzzCreateContexts(f *testing.F) {
	f.Add(ctxChain("MxAc", []byte{}, "QFid", []byte{}))
	f.Add(ctxChain("MxAc", make([]byte, 8), "RqLs", make([]byte, 52), "DH2Q", make([]byte, 32), "SecD", []byte{1, 0, 4, 0x80}))
	f.Add(ctxChain("DHnC", make([]byte, 16)))
	f.Add(ctxChain("TWrp", make([]byte, 8), "ExtA", make([]byte, 3)))
	f.Add(ctxChain("\x93\xad\x25\x50\x9c\xb4\x11\xe7\xb4\x23\x83\xde\x96\x8b\xcd\x7c", make([]byte, 4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, st := parseCreateContexts(b)
		switch st {
		case StatusSuccess, StatusInvalidParameter, StatusEAListInconsistent, StatusInvalidEAName, StatusInvalidEAFlag:
		default:
			t.Fatalf("status %v", st)
		}
		for _, part := range [][]byte{cc.secDesc, cc.dhnq, cc.dh2q, cc.dhnc, cc.dh2c, cc.lease, cc.eaBuffer} {
			if len(part) > 0 && !bytes.Contains(b, part) {
				t.Fatal("a context's data is not from the chain")
			}
		}
	})
}

// FuzzFileCompound runs arbitrary compound frames of file commands on a
// session logged on and connected to a disk share: no request may panic a
// handler. The frame's messages get the session's and tree's ids (unless
// related), so that the fuzzer explores the commands rather than the
// lookups that refuse unknown ids.
func FuzzFileCompound(f *testing.F) {
	rel := func(h *Header) { h.Flags |= FlagRelated }
	create := func(q createReq) []byte { return message(CmdCreate, q.body(), nil) }
	newFile := createReq{name: `d\f`, access: rw | accessDelete, share: shareAll, disp: dispOverwriteIf, contexts: ctxChain("MxAc", []byte{}, "QFid", []byte{})}
	f.Add(numbered(
		create(createReq{name: "d", access: fileGenericRead, share: shareAll, disp: dispOpenIf, options: optDirectory}),
		message(CmdQueryDirectory, queryDirBody(relatedFileID, classFileIDBothDirectory, queryRestartScans, "*", 4096), rel),
		message(CmdClose, closeBody(relatedFileID), rel)))
	f.Add(numbered(
		create(newFile),
		message(CmdWrite, writeBody(relatedFileID, 10, []byte("data"), writeFlagThrough), rel),
		message(CmdRead, readBody(relatedFileID, 0, 100), rel),
		message(CmdLock, lockBody(relatedFileID, excl(0, 5), shared(20, 5)), rel),
		message(CmdQueryInfo, queryInfoBody(relatedFileID, infoFile, classFileAll, 4096, 0), rel),
		message(CmdQueryInfo, queryInfoBody(relatedFileID, infoSecurity, 0, 4096, secOwner|secGroup|secDACL), rel),
		message(CmdSetInfo, setInfoBody(relatedFileID, infoFile, classFileRename, renameInfo(`d\g`, true), 0), rel),
		message(CmdSetInfo, setInfoBody(relatedFileID, infoFile, classFileDisposition, []byte{1}, 0), rel),
		message(CmdClose, closeBodyFlags(relatedFileID, closePostQueryAttrib), rel)))
	f.Add(numbered(
		create(newFile),
		message(CmdIoctl, ioctlBody(relatedFileID, fsctlSrvRequestResumeKey, nil, 32), rel),
		message(CmdIoctl, ioctlBody(relatedFileID, fsctlQueryAllocatedRanges, make([]byte, 16), 64), rel),
		message(CmdFlush, closeBody(relatedFileID), rel),
		message(CmdSetInfo, setInfoBody(relatedFileID, infoFile, classFileBasic, basicInfo([4]uint64{1, 2, 3, 4}, attrHidden), 0), rel),
		message(CmdClose, closeBody(relatedFileID), rel)))
	f.Add(numbered(create(createReq{name: "x", access: rw, disp: dispCreate, contexts: []byte{1, 2, 3}})))

	srv, pl := fuzzServer(f)
	runs := 0
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < HeaderSize {
			return
		}
		// The files every run leaves add up (the memory content store
		// takes 64 KiB per file written): start afresh now and then.
		if runs++; runs%256 == 0 {
			srv, pl = fuzzServer(t)
		}
		c := newConn(srv, &captureConn{})
		c.clientCaps = capLargeMTU
		c.setDialect(Dialect311)
		c.credits = newCreditWindow(1 << 12)
		c.credits.grant(1 << 12)
		session, tree := fuzzLogon(t, c)
		var arr [8][]byte
		msgs, ok := splitCompound(bytes.Clone(frame), arr[:0])
		if !ok {
			return
		}
		for i, m := range msgs {
			binary.LittleEndian.PutUint64(m[24:], uint64(100+i)) // message ids in the window
			binary.LittleEndian.PutUint16(m[6:], 1)
			if binary.LittleEndian.Uint32(m[16:])&uint32(FlagRelated|FlagAsync) == 0 {
				binary.LittleEndian.PutUint64(m[40:], session)
				binary.LittleEndian.PutUint32(m[36:], tree)
			}
			binary.LittleEndian.PutUint32(m[16:], binary.LittleEndian.Uint32(m[16:])&^uint32(FlagSigned))
		}
		c.serveChain(msgs, nil)
		pl.check(t)
		c.teardown()
		pl.check(t)
	})
}

// fuzzLogon logs an anonymous session on c and connects the guest share
// "export", returning their ids.
func fuzzLogon(t *testing.T, c *Conn) (uint64, uint32) {
	cc := c.nc.(*captureConn)
	anon := buildAuthenticate(nil, "", "", "", nil, ntlmNegotiateUnicode)
	rel := func(h *Header) { h.Flags |= FlagRelated }
	frame := numbered(message(CmdSessionSetup, setupBody(ntlmNegotiateMsg()), nil),
		message(CmdSessionSetup, setupBody(anon), rel),
		message(CmdTreeConnect, treeConnectBody(`\\h\export`), rel))
	var arr [8][]byte
	msgs, enc, ok := c.accept(frame, arr[:0])
	if !ok {
		t.Fatal("logon frame refused")
	}
	c.serveChain(msgs, enc)
	b := cc.out[4:]
	var h Header
	for range 3 {
		var err error
		if h, err = decodeHeader(b); err != nil || h.Status.IsError() && h.Status != StatusMoreProcessingRequired {
			t.Fatalf("logon: %v %v", h.Status, err)
		}
		b = b[h.NextCommand:]
	}
	cc.out = nil
	return h.SessionID, h.TreeID
}
