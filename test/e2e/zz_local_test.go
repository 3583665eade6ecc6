//go:build e2e

package e2e

import "testing"

func TestZZLocalScripts(t *testing.T) {
	v := client(t)
	mnt := "/var/posix"
	sh(t, v, 60e9, "rm -rf "+mnt+"; mkdir -p "+mnt)
	t.Run("files", func(t *testing.T) { testFiles(t, v, mnt) })
	t.Run("rename", func(t *testing.T) { testRename(t, v, mnt) })
	t.Run("links", func(t *testing.T) { testLinks(t, v, mnt) })
	t.Run("attributes", func(t *testing.T) { testAttributes(t, v, mnt) })
	t.Run("directories", func(t *testing.T) { testDirectories(t, v, mnt) })
	t.Run("copytree", func(t *testing.T) { testCopyTree(t, v, mnt) })
	t.Run("bigdir", func(t *testing.T) { testBigDir(t, v, mnt) })
}
