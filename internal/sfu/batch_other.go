//go:build !linux

package sfu

import (
	"net/netip"
	"syscall"
)

// batchSize is 0 where sendmmsg is missing: nothing is queued, every
// write goes out on its own.
const batchSize = 0

type sendQueue struct{ n int }

func (q *sendQueue) add([]byte, netip.AddrPort, bool) bool { return false }

func (q *sendQueue) send(syscall.RawConn) (calls, dropped int) { return 0, 0 }
