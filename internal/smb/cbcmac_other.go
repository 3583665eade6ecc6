//go:build !amd64 || purego

package smb

const haveAESAsm = false

func expandKey128(*byte, *[176]byte)              { panic("smb: no AES assembly") }
func cbcMAC128(*[176]byte, *[16]byte, *byte, int) { panic("smb: no AES assembly") }
