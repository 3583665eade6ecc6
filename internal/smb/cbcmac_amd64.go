//go:build !purego

package smb

import "golang.org/x/sys/cpu"

var haveAESAsm = cpu.X86.HasAES && cpu.X86.HasSSE41

// expandKey128 writes the 11 round keys of the AES-128 key at key.
//
//go:noescape
func expandKey128(key *byte, keys *[176]byte)

// cbcMAC128 runs n blocks at p through the chain x under keys.
//
//go:noescape
func cbcMAC128(keys *[176]byte, x *[16]byte, p *byte, n int)
