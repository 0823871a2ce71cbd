package sfu

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// countingWriter is a TrackLocalWriter that marshals like the real one
// but sends nowhere: the benchmark then measures Parley's own forwarding
// work (fan-out, rewriting, header building), not SRTP and sockets.
type countingWriter struct {
	buf     [maxPacket]byte
	packets int
}

func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n, err := h.MarshalTo(w.buf[:])
	if err != nil {
		return 0, err
	}
	n += copy(w.buf[n:], payload)
	w.packets++
	return n, nil
}

func (w *countingWriter) Write(b []byte) (int, error) { return len(b), nil }

func benchReceiver(n int) (*Receiver, []*countingWriter) {
	r := newReceiver(webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96,
	}, nil)
	ws := make([]*countingWriter, n)
	for i := range ws {
		ws[i] = &countingWriter{}
		d := newDownTrack(r, "s")
		d.writer, d.ssrc, d.pt = ws[i], uint32(1000+i), 96
		d.live.Store(true)
		d.layer.Store(0) // forwarding already, past its first keyframe
		r.addDown(d)
	}
	return r, ws
}

// BenchmarkForwardTapped is BenchmarkForward with one subscriber and a
// recorder's tap that copies every packet into a bounded queue, as
// internal/archive does: the cost a recording adds to forwarding.
func BenchmarkForwardTapped(b *testing.B) {
	r, _ := benchReceiver(1)
	queue := make(chan []byte, 1024)
	stop := r.Tap(func(pkt *rtp.Packet, _ bool) {
		select {
		case queue <- append([]byte(nil), pkt.Payload...):
		default:
		}
	})
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range queue {
		}
	}()
	raw := make([]byte, 1200)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, Marker: true}, Payload: raw[:1100]}
	b.ReportAllocs()
	b.SetBytes(1100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pkt.SequenceNumber = uint16(i)
		pkt.Timestamp = uint32(i / 3 * 3000)
		r.forward(0, &pkt, raw[:1112], false, time.Now().UnixNano())
	}
	b.StopTimer()
	close(queue)
	<-done
}

// BenchmarkForward measures one packet forwarded from a publisher to N
// subscribers; ns/op and allocs/op are per packet per subscriber.
func BenchmarkForward(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			r, _ := benchReceiver(n)
			raw := make([]byte, 1200)
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, Marker: true}, Payload: raw[:1100]}
			b.ReportAllocs()
			b.SetBytes(1100)
			b.ResetTimer()
			packets := 0
			for i := 0; packets < b.N; i++ {
				pkt.SequenceNumber = uint16(i)
				pkt.Timestamp = uint32(i / 3 * 3000)
				r.forward(0, &pkt, raw[:1112], false, time.Now().UnixNano())
				packets += n
			}
			b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}
