package lock

// unified reports whether a share binds each protocol by the other's
// locks and share modes.
func (m *Manager) unified(share uint32) bool { return true }
