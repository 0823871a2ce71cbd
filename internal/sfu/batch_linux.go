package sfu

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSize is the most packets one sendmmsg call carries.
const batchSize = 32

// mmsghdr is the kernel's struct mmsghdr.
type mmsghdr struct {
	hdr syscall.Msghdr
	len uint32
	_   [4]byte
}

// sendQueue holds packets and their destinations laid out as sendmmsg
// reads them, so that queueing a packet is a copy and sending the queue
// one system call, with nothing allocated.
type sendQueue struct {
	n int
	// The state of one sendmmsg call, kept here so that the function
	// given to RawConn.Write is made once, not once per call.
	from   int
	k      uintptr
	errno  syscall.Errno
	sendFn func(fd uintptr) bool
	hdrs   [batchSize]mmsghdr
	iovs   [batchSize]syscall.Iovec
	sas    [batchSize]syscall.RawSockaddrInet6 // large enough for either family
	bufs   [batchSize][maxPacket]byte
}

// add queues b for addr; false means it cannot be queued (too large, or
// a scoped IPv6 address) and must be sent on its own.
func (q *sendQueue) add(b []byte, addr netip.AddrPort, v4 bool) bool {
	if len(b) > maxPacket || addr.Addr().Zone() != "" {
		return false
	}
	i := q.n
	copy(q.bufs[i][:], b)
	q.iovs[i].Base = &q.bufs[i][0]
	q.iovs[i].SetLen(len(b))
	h := &q.hdrs[i].hdr
	*h = syscall.Msghdr{Iov: &q.iovs[i]}
	h.Iovlen = 1
	sa := &q.sas[i]
	port := addr.Port()
	ip := addr.Addr()
	if v4 {
		ip = ip.Unmap()
		if !ip.Is4() {
			return false
		}
		sa4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: ip.As4()}
		p := (*[2]byte)(unsafe.Pointer(&sa4.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		h.Namelen = syscall.SizeofSockaddrInet4
	} else {
		*sa = syscall.RawSockaddrInet6{Family: syscall.AF_INET6, Addr: ip.As16()}
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		h.Namelen = syscall.SizeofSockaddrInet6
	}
	h.Name = (*byte)(unsafe.Pointer(sa))
	q.n++
	return true
}

// send hands every queued packet to the kernel and empties the queue. A
// packet the kernel refuses is dropped (and counted), as a datagram lost
// on the way would be; a full socket buffer is waited for.
func (q *sendQueue) send(raw syscall.RawConn) (calls, dropped int) {
	if q.sendFn == nil {
		q.sendFn = q.sendmmsg
	}
	for q.from = 0; q.from < q.n; {
		err := raw.Write(q.sendFn)
		calls++
		switch {
		case err != nil: // the socket is closed or past its deadline
			dropped += q.n - q.from
			q.from = q.n
		case q.errno != 0: // the first packet was refused
			dropped++
			q.from++
		default:
			q.from += int(q.k)
		}
	}
	q.n = 0
	return calls, dropped
}

// sendmmsg sends the queue from q.from on; false asks the poller to wait
// until the socket can take more.
func (q *sendQueue) sendmmsg(fd uintptr) bool {
	q.k, _, q.errno = syscall.Syscall6(unix.SYS_SENDMMSG, fd,
		uintptr(unsafe.Pointer(&q.hdrs[q.from])), uintptr(q.n-q.from), 0, 0, 0)
	return q.errno != syscall.EAGAIN
}
