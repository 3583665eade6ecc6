package localfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Host file layouts. Both put a file at ROOT/xx/yy/<id as 16 hex digits>;
// they differ in which bytes of the id name the directories.
//
// layoutLow (the first) takes the id's two lowest bytes, xx = byte 0 and
// yy = byte 1. Ids are handed out in sequence, so consecutive files land in
// different directories: the first 65,536 files of a store each make a
// directory of their own, and making a file costs a mkdir and an fsync of
// its parent on top of its own.
//
// layoutBlock takes bytes 2 and 1, so the 256 consecutive ids of a block
// share a directory: a new directory every 256 files, and the directory
// fsync that makes a new file reachable is of a directory that already
// exists. Stores still spread evenly, over 65,536 directories at 16
// million files, each holding 256 files until ids wrap past 2^24.
const (
	layoutLow   = 1
	layoutBlock = 2
)

// layoutFile names the layout of a store made with layoutBlock or later;
// a store without it that holds anything is layoutLow.
const layoutFile = "layout"

// openLayout returns the layout of the store in root, recording the
// newest one (durably, before any file is made) when root is empty.
func openLayout(root string) (int, error) {
	b, err := os.ReadFile(filepath.Join(root, layoutFile))
	switch {
	case err == nil:
		if strings.TrimSpace(string(b)) == "2" {
			return layoutBlock, nil
		}
		return 0, fmt.Errorf("content: unknown layout %q in %s", b, root)
	case !errors.Is(err, fs.ErrNotExist):
		return 0, err
	}
	d, err := os.Open(root)
	if err != nil {
		return 0, err
	}
	names, err := d.Readdirnames(1)
	d.Close()
	switch {
	case len(names) > 0:
		return layoutLow, nil
	case err != nil && err != io.EOF:
		return 0, err
	}
	if err := writeSynced(filepath.Join(root, layoutFile), []byte("2\n")); err != nil {
		return 0, err
	}
	if err := syncDir(root); err != nil {
		return 0, err
	}
	return layoutBlock, nil
}

func writeSynced(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// path returns the host file of id and its fan-out directories.
func (s *Store) path(id uint64) (file, leaf, mid string) {
	hi, lo := byte(id>>16), byte(id>>8)
	if s.layout == layoutLow {
		hi, lo = byte(id), byte(id>>8)
	}
	const hexDigits = "0123456789abcdef"
	var b [len("/xx/yy/") + 16]byte
	b[0], b[3], b[6] = '/', '/', '/'
	b[1], b[2] = hexDigits[hi>>4], hexDigits[hi&15]
	b[4], b[5] = hexDigits[lo>>4], hexDigits[lo&15]
	for i := range 16 {
		b[7+i] = hexDigits[id>>(60-4*i)&15]
	}
	file = s.root + string(b[:])
	n := len(s.root)
	return file, file[:n+6], file[:n+3]
}
