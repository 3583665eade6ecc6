package lock

import "context"

// Persistence: the caller (a journal) writes each changed file's records
// to the metadata store. The Manager does no I/O; it remembers which
// files' persisted state (locks, share reservations, caching grants; not
// waiters) changed since the journal last asked, and numbers every change,
// so that a request that changed the table can wait until a write that
// includes its change is durable: the journal reads Seq after the request's
// call and waits until it has written the state of Changes at that number
// or later. Each write is the whole state of a file at one moment, so the
// store holds, per file, a state the Manager really had.

// FileState is the persisted state of one file at the time of Changes:
// its records, none when the file has no state left.
type FileState struct {
	File    FileKey
	Records []Record
}

// touch notes that the persisted state of f changed (or may have).
func (m *Manager) touch(f *file) {
	m.seq.Add(1)
	if m.onChange != nil {
		close(m.onChange)
		m.onChange = nil
	}
	if m.track {
		m.changed[f.key] = true
	}
}

// Seq numbers the last change to the persisted state. It only grows.
func (m *Manager) Seq() uint64 { return m.seq.Load() }

// Changes returns the state of every file whose persisted state changed
// since the last call (appended to buf), and the number of the last
// change it includes. It returns nothing unless Config.Track was set.
func (m *Manager) Changes(buf []FileState) ([]FileState, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.changed {
		fs := FileState{File: k}
		if f := m.files[k]; f != nil {
			fs.Records = f.appendRecords(nil)
		}
		buf = append(buf, fs)
		delete(m.changed, k)
	}
	return buf, m.seq.Load()
}

// Unwritten marks files as changed again: a write of their state failed,
// and the next Changes must include them.
func (m *Manager) Unwritten(keys []FileKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.track {
		return
	}
	for _, k := range keys {
		m.changed[k] = true
	}
}

// Journal persists the table (package lockstore provides it). A front end
// calls Granted after a call that granted something to an owner and before
// it answers, and Released after a release before it answers; Lazy after a
// release nobody waits to hear of. A grant survives a crash before its
// client hears of it; a release survives a crash of the server process
// before its client hears of it, and one of the machine soon after.
type Journal interface {
	Granted(ctx context.Context, k FileKey, o Owner) error
	Released(ctx context.Context) error
	Lazy()
}

// NoJournal persists nothing: for a Manager that lives only in memory.
type NoJournal struct{}

// Granted implements Journal.
func (NoJournal) Granted(context.Context, FileKey, Owner) error { return nil }

// Released implements Journal.
func (NoJournal) Released(context.Context) error { return nil }

// Lazy implements Journal.
func (NoJournal) Lazy() {}

// A Claim says that a client held state on a file: the journal makes one
// durable before the first grant to the client on the file is answered,
// and keeps it while the client has state there (and a while after), so
// that later grants on the file need not wait for the disk (the records
// of the file's exact state follow within a second). After a crash a
// claim stands for whatever the client held on the file that the records
// may have missed (see Recover).
type Claim struct {
	File  FileKey
	Proto Proto
	Host  string
}

// ClaimOf is the claim that covers a grant to o on file k.
func ClaimOf(k FileKey, o Owner) Claim { return Claim{File: k, Proto: o.Proto, Host: o.Host} }
