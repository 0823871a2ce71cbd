package sfu

import (
	"bytes"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

func batchPair(t *testing.T, network, ip string) (*batchConn, *net.UDPConn) {
	t.Helper()
	addr := &net.UDPAddr{IP: net.ParseIP(ip)}
	tx, err := listenBatchUDP(network, addr)
	if err != nil {
		t.Skipf("no %s socket on %s: %v", network, ip, err)
	}
	t.Cleanup(func() { tx.Close() })
	rx, err := net.ListenUDP(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rx.Close() })
	return tx, rx
}

// read returns the next datagram on rx, or nil when none is there: every
// packet under test is either in the kernel already or still in the
// sender's queue, so a short wait tells them apart.
func read(t *testing.T, rx *net.UDPConn) []byte {
	t.Helper()
	buf := make([]byte, 2048)
	rx.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, _, err := rx.ReadFromUDP(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func packet(i, size int) []byte {
	p := bytes.Repeat([]byte{byte(i)}, size)
	p[0] = byte(i >> 8)
	return p
}

func TestBatchConnQueuesDuringFanOut(t *testing.T) {
	if batchSize == 0 {
		t.Skip("no batched sends on " + runtime.GOOS)
	}
	for _, c := range []struct{ network, ip string }{{"udp4", "127.0.0.1"}, {"udp6", "::1"}} {
		t.Run(c.network, func(t *testing.T) {
			tx, rx := batchPair(t, c.network, c.ip)
			to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
			b := &sendBatch{conns: []*batchConn{tx}}

			// Outside a fan-out a write leaves at once.
			if _, err := tx.WriteToAddrPort(packet(1, 100), to); err != nil {
				t.Fatal(err)
			}
			if got := read(t, rx); !bytes.Equal(got, packet(1, 100)) {
				t.Fatalf("direct write: got %d bytes", len(got))
			}

			// Inside, writes wait for the end of the fan-out or a full
			// batch, and leave in order; the caller's buffer is copied.
			b.begin()
			n := batchSize + 8
			buf := make([]byte, 1200)
			for i := range n {
				copy(buf, packet(i, 1200))
				if k, err := tx.WriteTo(buf, rx.LocalAddr()); err != nil || k != 1200 {
					t.Fatalf("queued write %d: %d, %v", i, k, err)
				}
				clear(buf)
			}
			for i := range batchSize {
				if got := read(t, rx); !bytes.Equal(got, packet(i, 1200)) {
					t.Fatalf("packet %d of the full batch: got %d bytes", i, len(got))
				}
			}
			if got := read(t, rx); got != nil {
				t.Fatal("a packet of the unfinished batch left before the fan-out ended")
			}
			b.end()
			for i := batchSize; i < n; i++ {
				if got := read(t, rx); !bytes.Equal(got, packet(i, 1200)) {
					t.Fatalf("packet %d after the fan-out: got %d bytes", i, len(got))
				}
			}
			packets, calls, dropped := b.stats()
			if packets != uint64(n) || calls != 2 || dropped != 0 {
				t.Fatalf("stats: %d packets in %d calls, %d dropped; want %d in 2, 0", packets, calls, dropped, n)
			}

			// A datagram larger than a queue slot goes out on its own.
			b.begin()
			if _, err := tx.WriteToAddrPort(packet(7, maxPacket+100), to); err != nil {
				t.Fatal(err)
			}
			if got := read(t, rx); len(got) != maxPacket+100 {
				t.Fatalf("large datagram: got %d bytes", len(got))
			}
			b.end()
		})
	}
}

// Nested fan-outs (two receivers forwarding at once) share the queue; the
// first to end sends what both queued.
func TestBatchConnNestedFanOuts(t *testing.T) {
	if batchSize == 0 {
		t.Skip("no batched sends on " + runtime.GOOS)
	}
	tx, rx := batchPair(t, "udp4", "127.0.0.1")
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	b := &sendBatch{conns: []*batchConn{tx}}
	b.begin()
	b.begin()
	tx.WriteToAddrPort(packet(1, 50), to)
	b.end()
	if got := read(t, rx); !bytes.Equal(got, packet(1, 50)) {
		t.Fatal("the first end did not send the queue")
	}
	tx.WriteToAddrPort(packet(2, 50), to)
	b.end()
	if got := read(t, rx); !bytes.Equal(got, packet(2, 50)) {
		t.Fatal("the last end did not send the queue")
	}
	tx.WriteToAddrPort(packet(3, 50), to)
	if got := read(t, rx); !bytes.Equal(got, packet(3, 50)) {
		t.Fatal("after every fan-out ended a write was held back")
	}
}

// What is queued when the socket closes is dropped and counted; nothing
// blocks or panics.
func TestBatchConnClosedWhileQueued(t *testing.T) {
	if batchSize == 0 {
		t.Skip("no batched sends on " + runtime.GOOS)
	}
	tx, rx := batchPair(t, "udp4", "127.0.0.1")
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	b := &sendBatch{conns: []*batchConn{tx}}
	b.begin()
	for i := range 3 {
		tx.WriteToAddrPort(packet(i, 50), to)
	}
	tx.Close()
	b.end()
	if _, _, dropped := b.stats(); dropped != 3 {
		t.Fatalf("dropped %d, want 3", dropped)
	}
	if _, err := tx.WriteToAddrPort(packet(9, 50), to); err == nil {
		t.Fatal("a write on a closed socket succeeded")
	}
}

// The forwarding path queues nothing of its own: with a nil batch (no
// sockets, as in the benchmarks) begin and end do nothing.
func TestNilSendBatch(t *testing.T) {
	var b *sendBatch
	b.begin()
	b.end()
	if p, c, d := b.stats(); p+c+d != 0 {
		t.Fatal("a nil batch counted something")
	}
}
