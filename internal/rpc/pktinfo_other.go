//go:build !linux

package rpc

import (
	"errors"
	"net"
)

const pktinfoSpace = 0

func enablePktinfo(*net.UDPConn, bool) error {
	return errors.New("rpc: packet info not supported on this system")
}

func parsePktinfo(oob, dst []byte) (net.IP, []byte, bool) { return nil, dst, false }
