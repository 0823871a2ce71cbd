package rtcclient

import (
	"errors"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// pacedQueue bounds the packets a paced stream holds; a writer finding it
// full waits, as a frame source waits for a full socket.
const pacedQueue = 1024

// pacer is an interceptor that spaces out the packets of the video tracks
// whose publisher asked for it (PublishOptions.PaceBitrate), as browsers'
// pacers do: a frame's packets leave one after another at the pacing
// rate instead of all at once. Registered after the send counter, it is
// the outermost: packets are counted and logged as they really leave.
type pacer struct {
	interceptor.NoOp
	c *Client

	mu      sync.Mutex
	streams map[uint32]*pacedStream
}

type pacerFactory struct{ c *Client }

func (f pacerFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &pacer{c: f.c, streams: map[uint32]*pacedStream{}}, nil
}

// pacedStream is one stream's queue and the goroutine that drains it.
type pacedStream struct {
	w     interceptor.RTPWriter
	rate  float64 // bytes per second
	queue chan pacedPacket
	stop  chan struct{}
	done  chan struct{}
}

type pacedPacket struct {
	h       rtp.Header
	payload []byte
	a       interceptor.Attributes
}

func (p *pacer) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	p.c.mu.Lock()
	sink, ok := p.c.sinks[info.SSRC]
	p.c.mu.Unlock()
	if !ok || sink.pace <= 0 {
		return w
	}
	s := &pacedStream{w: w, rate: float64(sink.pace) / 8, queue: make(chan pacedPacket, pacedQueue),
		stop: make(chan struct{}), done: make(chan struct{})}
	p.mu.Lock()
	if old := p.streams[info.SSRC]; old != nil {
		old.close()
	}
	p.streams[info.SSRC] = s
	p.mu.Unlock()
	go s.run()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		select {
		case <-s.stop:
			return 0, errPacerClosed
		default:
		}
		pkt := pacedPacket{h: h.Clone(), payload: append([]byte(nil), payload...), a: a}
		select {
		case s.queue <- pkt:
			return h.MarshalSize() + len(payload), nil
		case <-s.stop:
			return 0, errPacerClosed
		}
	})
}

func (p *pacer) UnbindLocalStream(info *interceptor.StreamInfo) {
	p.mu.Lock()
	s := p.streams[info.SSRC]
	delete(p.streams, info.SSRC)
	p.mu.Unlock()
	if s != nil {
		s.close()
	}
}

func (p *pacer) Close() error {
	p.mu.Lock()
	streams := p.streams
	p.streams = map[uint32]*pacedStream{}
	p.mu.Unlock()
	for _, s := range streams {
		s.close()
	}
	return nil
}

// run sends the queued packets, each when the rate allows: after the
// previous one's bytes at the pacing rate, or at once after a pause.
func (s *pacedStream) run() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var next time.Time
	for {
		var pkt pacedPacket
		select {
		case pkt = <-s.queue:
		case <-s.stop:
			return
		}
		if now := time.Now(); next.After(now) {
			timer.Reset(next.Sub(now))
			select {
			case <-timer.C:
			case <-s.stop:
				return
			}
		} else {
			next = now
		}
		size := pkt.h.MarshalSize() + len(pkt.payload)
		_, _ = s.w.Write(&pkt.h, pkt.payload, pkt.a)
		next = next.Add(time.Duration(float64(size) / s.rate * float64(time.Second)))
	}
}

func (s *pacedStream) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// errPacerClosed is returned for a packet written after its stream ended.
var errPacerClosed = errors.New("rtcclient: the paced stream is closed")
