package nlm

// ReleaseHost drops every lock and waiting request of the NLM host named
// name, as its reboot would: for an operator freeing a client that is
// gone for good. Waiters of other hosts behind those locks are granted.
func (h *Handler) ReleaseHost(name string) { h.releaseHost(name) }
