// Package smbtorture judges Tandem's SMB server with Samba's own
// conformance suite, smbtorture (Debian package samba-testsuite).
//
// The end-to-end test (build tag e2e) starts a real `tandem serve` per
// suite, runs smbtorture against it the way Samba's selftest runs it
// (--target=samba3, subunit output, signing for smb2.notify), and reads
// one verdict per test: success, failure, error, skip, or unfinished when
// a test started and never ended (the server hung or dropped the
// connection).
//
// Every test is expected to succeed unless knownfail.txt lists it, with
// the verdict it gets today, a class and a one-line reason. The run fails
// on any verdict that differs from the list, in either direction: a new
// failure is a regression, and a listed test that now passes must leave
// the list, so that the list only shrinks.
//
// samba-4.17.verdicts holds the verdict of every test of these suites
// against Samba 4.17 on the same kind of machine and with the same
// command: the reference. The class of a known failure says how it relates
// to it: "samba-also" for a test that Samba does not pass either (a
// limitation shared with the reference, often upstream's own knownfail),
// "tandem-only" for a test Samba passes and Tandem does not yet (work left
// to do). The fast tier checks that every class is true to the reference.
package smbtorture
