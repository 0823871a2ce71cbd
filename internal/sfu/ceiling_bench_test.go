package sfu

import (
	"net"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/net/ipv4"
)

// The ceiling benchmarks measure what one core can do at most for each
// forwarded packet, without any SFU logic: encrypt it with SRTP and hand
// it to the kernel, one sendto per packet or 32 per sendmmsg. The
// forwarding benchmarks read against them as a ratio that holds from one
// machine to another (docs/benchmarks.md).
//
//	go test -run '^$' -bench Ceiling -benchmem ./internal/sfu/

// ceilingPacket is a typical video packet: 12-byte header, 1188 bytes of
// payload.
func ceilingPacket() (*rtp.Header, []byte) {
	h := &rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 1, Timestamp: 90000, SSRC: 0x1234}
	pkt := make([]byte, 1200)
	if _, err := h.MarshalTo(pkt); err != nil {
		panic(err)
	}
	return h, pkt
}

func ceilingContext(b *testing.B, profile srtp.ProtectionProfile) *srtp.Context {
	keyLen, _ := profile.KeyLen()
	saltLen, _ := profile.SaltLen()
	ctx, err := srtp.CreateContext(make([]byte, keyLen), make([]byte, saltLen), profile)
	if err != nil {
		b.Fatal(err)
	}
	return ctx
}

var ceilingProfiles = []struct {
	name    string
	profile srtp.ProtectionProfile
}{
	{"gcm", srtp.ProtectionProfileAeadAes128Gcm},
	{"cm-hmac", srtp.ProtectionProfileAes128CmHmacSha1_80},
}

// BenchmarkCeilingSRTP: encrypting one packet.
func BenchmarkCeilingSRTP(b *testing.B) {
	for _, p := range ceilingProfiles {
		b.Run(p.name, func(b *testing.B) {
			ctx := ceilingContext(b, p.profile)
			h, pkt := ceilingPacket()
			dst := make([]byte, 0, 1500)
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				h.SequenceNumber = uint16(i)
				pkt[2], pkt[3] = byte(i>>8), byte(i)
				out, err := ctx.EncryptRTP(dst[:0], pkt, h)
				if err != nil {
					b.Fatal(err)
				}
				dst = out
			}
		})
	}
}

// ceilingSockets are a sender and a receiver on loopback; nothing reads
// the receiver, so the kernel drops what its buffer cannot hold, as it
// costs the sender the same.
func ceilingSockets(b *testing.B) (*net.UDPConn, *net.UDPAddr) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rx.Close() })
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tx.Close() })
	return tx, rx.LocalAddr().(*net.UDPAddr)
}

// BenchmarkCeilingSend: the SRTP packets of a subscriber handed to the
// kernel, one sendto each, or 32 at a time with sendmmsg; ns/op is per
// packet, encryption included.
func BenchmarkCeilingSend(b *testing.B) {
	for _, p := range ceilingProfiles {
		b.Run(p.name+"/sendto", func(b *testing.B) {
			ctx := ceilingContext(b, p.profile)
			tx, to := ceilingSockets(b)
			h, pkt := ceilingPacket()
			dst := make([]byte, 0, 1500)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				h.SequenceNumber = uint16(i)
				pkt[2], pkt[3] = byte(i>>8), byte(i)
				out, err := ctx.EncryptRTP(dst[:0], pkt, h)
				if err != nil {
					b.Fatal(err)
				}
				dst = out
				if _, err := tx.WriteToUDP(out, to); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(p.name+"/sendmmsg32", func(b *testing.B) {
			tx, to := ceilingSockets(b)
			encryptAndSendBatches(b, ceilingContext(b, p.profile), tx, []*net.UDPAddr{to})
		})
	}
}

// encryptAndSendBatches encrypts a packet per op and hands them to the
// kernel 32 at a time with sendmmsg, to each of dsts in turn.
func encryptAndSendBatches(b *testing.B, ctx *srtp.Context, tx *net.UDPConn, dsts []*net.UDPAddr) {
	const batch = 32
	pc := ipv4.NewPacketConn(tx)
	h, pkt := ceilingPacket()
	msgs := make([]ipv4.Message, batch)
	bufs := make([][]byte, batch)
	for j := range msgs {
		bufs[j] = make([]byte, 0, 1500)
		msgs[j].Buffers = [][]byte{nil}
	}
	n := 0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.SequenceNumber = uint16(i)
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		out, err := ctx.EncryptRTP(bufs[n][:0], pkt, h)
		if err != nil {
			b.Fatal(err)
		}
		bufs[n] = out
		msgs[n].Buffers[0] = out
		msgs[n].Addr = dsts[i%len(dsts)]
		if n++; n == batch {
			for sent := 0; sent < batch; {
				k, err := pc.WriteBatch(msgs[sent:], 0)
				if err != nil {
					b.Fatal(err)
				}
				sent += k
			}
			n = 0
		}
	}
}

// BenchmarkCeilingSendDelivered is the sendmmsg ceiling with what a load
// test on the same machine adds: the packets go to 50 sockets that are
// read as they arrive, so the kernel delivers each one to its socket and
// wakes its reader instead of dropping it at a full buffer. ns/op is per
// packet, encryption included; the readers' own CPU is not in it.
func BenchmarkCeilingSendDelivered(b *testing.B) {
	const sockets = 50
	ctx := ceilingContext(b, srtp.ProtectionProfileAeadAes128Gcm)
	tx, _ := ceilingSockets(b)
	var dsts []*net.UDPAddr
	for range sockets {
		rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { rx.Close() })
		dsts = append(dsts, rx.LocalAddr().(*net.UDPAddr))
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := rx.ReadFromUDP(buf); err != nil {
					return
				}
			}
		}()
	}
	encryptAndSendBatches(b, ctx, tx, dsts)
}
