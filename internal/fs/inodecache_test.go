package fs

import (
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

// TestCacheFillAfterDrop: a read that began before a change dropped what it
// read does not cache it (it may be the old value); one that began after
// does, and the next drop removes it.
func TestCacheFillAfterDrop(t *testing.T) {
	var c metaCache
	old := meta.Inode{ID: 20, Gen: 1, Size: 1}
	e := c.epoch.Load()
	c.drop([]uint64{20}, []entryKey{{1, "a"}})
	c.fillInode(e, &old)
	c.fillEntry(e, 1, "a", 20)
	if _, ok := c.inode(20); ok {
		t.Error("an inode read before a drop was cached")
	}
	if _, ok := c.entry(1, "a"); ok {
		t.Error("an entry read before a drop was cached")
	}

	e = c.epoch.Load()
	cur := meta.Inode{ID: 20, Gen: 1, Size: 2}
	c.fillInode(e, &cur)
	c.fillEntry(e, 1, "a", 20)
	if ino, ok := c.inode(20); !ok || ino.Size != 2 {
		t.Errorf("inode after a clean fill: %+v, %v", ino, ok)
	}
	if id, ok := c.entry(1, "a"); !ok || id != 20 {
		t.Errorf("entry after a clean fill: %d, %v", id, ok)
	}
	c.drop([]uint64{20}, []entryKey{{1, "a"}})
	if _, ok := c.inode(20); ok {
		t.Error("inode still cached after its drop")
	}
	if _, ok := c.entry(1, "a"); ok {
		t.Error("entry still cached after its drop")
	}
}

// TestCacheBounded: a shard keeps at most cacheShardLimit inodes.
func TestCacheBounded(t *testing.T) {
	var c metaCache
	e := c.epoch.Load()
	for i := range uint64(3 * cacheShardLimit) {
		ino := meta.Inode{ID: i * cacheShards, Gen: 1} // all in shard 0
		c.fillInode(e, &ino)
	}
	if n := len(c.inodes[0].m); n > cacheShardLimit {
		t.Errorf("shard holds %d inodes, limit %d", n, cacheShardLimit)
	}
}
