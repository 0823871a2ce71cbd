package sfu

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
)

// sendBatch is how packets forwarded to subscribers reach the kernel in
// batches: while a receiver fans a packet out (between begin and end),
// what its down tracks write to the SFU's UDP sockets is queued, and each
// socket hands its queue to the kernel in one system call (sendmmsg on
// Linux) when the queue is full or the fan-out ends. Outside a fan-out a
// write goes out at once, as it would without batching: ICE checks, DTLS,
// RTCP and retransmissions are never held back by more than one fan-out.
//
// One system call per packet is most of what forwarding costs
// (docs/benchmarks.md); a batch pays the call once for up to batchSize
// packets, whatever their destinations.
type sendBatch struct {
	conns []*batchConn
}

// begin opens a fan-out: writes are queued until the matching end.
func (b *sendBatch) begin() {
	if b == nil {
		return
	}
	for _, c := range b.conns {
		c.mu.Lock()
		c.scopes++
		c.mu.Unlock()
	}
}

// end closes a fan-out and sends what is queued.
func (b *sendBatch) end() {
	if b == nil {
		return
	}
	for _, c := range b.conns {
		c.mu.Lock()
		c.scopes--
		if c.q.n > 0 {
			c.flushLocked()
		}
		c.mu.Unlock()
	}
}

// stats sums the counters of every socket.
func (b *sendBatch) stats() (packets, calls, dropped uint64) {
	if b == nil {
		return 0, 0, 0
	}
	for _, c := range b.conns {
		packets += c.batched.Load()
		calls += c.calls.Load()
		dropped += c.dropped.Load()
	}
	return packets, calls, dropped
}

// batchConn is one ICE UDP socket of the SFU that can queue writes. It is
// what the ICE mux reads from and writes to (a net.PacketConn with the
// mux's allocation-free netip methods).
type batchConn struct {
	*net.UDPConn
	raw syscall.RawConn
	v4  bool // the socket is IPv4: destinations are written as sockaddr_in

	mu     sync.Mutex
	scopes int // fan-outs in progress
	q      sendQueue

	batched, calls, dropped atomic.Uint64
}

func newBatchConn(c *net.UDPConn) (*batchConn, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	local, _ := c.LocalAddr().(*net.UDPAddr)
	return &batchConn{UDPConn: c, raw: raw, v4: local != nil && local.IP.To4() != nil}, nil
}

// ReadFromAddrPort reads one datagram (the mux's read loop).
func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.UDPConn.ReadFromUDPAddrPort(b)
}

// WriteToAddrPort queues b for addr during a fan-out, or sends it now.
// A queued packet is copied: the caller may reuse b at once. Its send
// errors are counted, not returned, as a datagram lost on the way would be.
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	c.mu.Lock()
	if c.scopes == 0 || !c.q.add(b, addr, c.v4) {
		c.mu.Unlock()
		return c.UDPConn.WriteToUDPAddrPort(b, addr)
	}
	if c.q.n == batchSize {
		c.flushLocked()
	}
	c.mu.Unlock()
	return len(b), nil
}

// WriteTo implements net.PacketConn.
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if u, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(b, u.AddrPort())
	}
	return c.UDPConn.WriteTo(b, addr)
}

// flushLocked hands the queue to the kernel; c.mu is held.
func (c *batchConn) flushLocked() {
	n := c.q.n
	calls, dropped := c.q.send(c.raw)
	c.batched.Add(uint64(n))
	c.calls.Add(uint64(calls))
	c.dropped.Add(uint64(dropped))
}
