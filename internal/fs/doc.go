// Package fs is Tandem's protocol-neutral file system: every namespace and
// I/O operation the NFS and SMB front ends need, the permission checks that
// guard them, and attributes both protocols report the same way.
//
// # Model
//
// A server exports shares. Each share is a tree rooted at its own directory
// and is reached through handles (Handle): share id, file id and generation.
// Files live in two stores: metadata (inodes and directory entries) in a
// meta.Store, regular files' bytes in a content.Store. Every check and
// change of the namespace happens inside one metadata transaction, so two
// clients racing to create, remove or rename the same names see one of the
// serial outcomes, never a mix. Content is written outside transactions and
// the inode (size, times) is then updated in one; a file's content is
// removed only after the transaction that dropped its last link committed.
//
// # Durability and crashes
//
// Each namespace change (create, mkdir, remove, rename, link, setattr) is
// one metadata transaction, durable when the call returns: NFSv3 wants it
// on stable storage before the reply, and that one log flush is all it
// waits for. On a share configured Async (knfsd's async export) it is
// committed without waiting for the flush and becomes durable with the
// next flush of the log: a COMMIT, a FILE_SYNC write, a change on a share
// that is not Async. A regular file has no content until its first write; the
// content store makes its host file then, and a file it has none of reads
// as zeros, so creating a file does nothing in the content store.
//
// An Unstable write leaves the data in the content store and the new size
// and times in the metadata store without waiting for either to reach the
// disk. Commit (NFS COMMIT, SMB FLUSH) flushes the file's content (with
// the host directories that name it) and the metadata log at the same time
// and answers when both are done; a FileSync write flushes its data while
// its inode update commits. A crash before that answer may keep any part:
//
//   - the new size without the data: the file reads zeros there;
//   - the data without the new size: the bytes past the size are not read,
//     and if a later write extends the file over them without truncating
//     first, what shows is bytes a client sent to this same file at these
//     same offsets.
//
// So a crash loses unacknowledged writes, and never shows a file another
// file's bytes or uninitialized disk: file ids are never reused, so a host
// file only ever holds the data of the one inode that owns the id. The
// content of a removed file is unlinked after the removal commits, without
// a flush; a crash may leave the host file behind, which wastes space and
// is never read, since nothing can name its id again.
//
// # Who may do what
//
// A Caller is first mapped through the share's export rules: networks not
// listed are refused (ErrAccess), anonymous callers and every caller of an
// all_squash share become the share's anonymous user, and root_squash turns
// uid 0 and gid 0 into the anonymous ids. The mapped identity is then
// checked with POSIX rules, as Linux knfsd over ext4 would:
//
//   - mode bits pick one class (owner, else group including the
//     supplementary groups, else other); root bypasses read and write, and
//     execute of a non-directory needs one x bit somewhere;
//   - lookup needs search (x) on the directory; making, removing or
//     renaming entries needs write and search; in a sticky directory only
//     the owner of the entry, the owner of the directory or root may remove
//     or replace it (ErrPerm);
//   - chmod is for the owner and root, chown for root, chgrp for the owner
//     to a group they are in; explicit times are for the owner and root,
//     "now" for anyone who may write;
//   - a write or size change by anyone but root clears setuid and setgid;
//   - as in knfsd, the owner of a regular file may read, write and
//     truncate it whatever its mode says. The client already checked the
//     mode when the file was opened, and a program that creates a file
//     read-only and then writes to it (git, tar, cp -p) must work.
//     Access reports the mode bits without this exception, so opens are
//     still refused as they would be locally.
//
// A read-only share answers ErrROFS to every change and Access never grants
// MODIFY, EXTEND or DELETE there.
//
// A protocol that decides access by a list of its own (SMB by a stored
// DACL, which may name users and groups the mode bits cannot) marks the
// calls it has already judged with Caller.Judged: for such a call the
// checks above of mode bits, ownership and the sticky bit pass, chown is
// allowed to the caller's own uid (taking ownership) and chgrp to any of
// its groups. The protocol answers for having checked everything the call
// does; share admission, squashing, read-only shares and every other rule
// stay. Access ignores the mark: it reports what the mode bits grant. NFS
// never sets it, so NFS keeps the POSIX checks whatever SMB stored.
//
// # Choices worth knowing
//
//   - A new share's root directory is owned by root with mode 0777, like a
//     freshly made export directory, so that any user of a fresh share can
//     create files in it. Administrators tighten it with chmod like any
//     directory. The root's ".." is itself.
//   - New files are 0644 and directories 0755 when the caller gives no
//     mode; NFS clients always send one with their umask applied.
//     Ownership asked for at creation by a non-root caller is ignored, as
//     knfsd does.
//   - Reads update atime like Linux's relatime: only when atime is not
//     newer than mtime or ctime, or is a day old, so a busy read path does
//     not write metadata on every read. Listing a directory does not
//     touch its atime.
//   - Directory cookies are the metadata store's stable entry positions
//     ("." is 1, ".." is 2), so a listing resumed after entries were removed
//     continues where it stopped. The cookie verifier is fixed for the life
//     of the directory.
//   - Inodes and directory entries that were read are kept in memory
//     (inodecache.go) for GETATTR, READ, WRITE, ACCESS, COMMIT and LOOKUP;
//     every transaction that changes one drops it before its change is
//     answered, whichever protocol made it.
//   - The file count of StatFS is a counter kept with the inodes; the total
//     is a fixed maximum (MaxFiles).
//   - Errors never leave the package as anything but Error. A store failure
//     is logged with its cause and reported as ErrIO.
package fs
