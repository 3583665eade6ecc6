package admin

import (
	"io"
	"syscall"
)

// maxRequest bounds a request: admin requests are small, and the server
// must not buffer whatever a confused client sends.
const maxRequest = 1 << 20

func limitRequest(r io.Reader) io.Reader { return io.LimitReader(r, maxRequest) }

var errConnRefused = syscall.ECONNREFUSED
