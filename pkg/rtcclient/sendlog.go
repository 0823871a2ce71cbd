package rtcclient

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// SendLog remembers when a publisher sent each of its recent packets, by
// their payload. Packets played from a file carry no send time of their
// own, but the SFU forwards payloads unchanged (it rewrites SSRC,
// sequence numbers and timestamps): a subscriber in the same process
// finds a packet's send time here and measures its one-way delay without
// touching the media, which stays exactly what the file holds.
//
// A payload sent twice (a clip that loops, a retransmission) keeps its
// latest send time; a packet that arrives after the log has forgotten it
// (logSize packets later) is not measured.
type SendLog struct {
	seed maphash.Seed

	mu   sync.Mutex
	at   map[uint64]int64 // payload hash → unix nanos of its latest send
	ring [logSize]logEntry
	next int
}

type logEntry struct {
	key uint64
	at  int64
}

// logSize is how many packets a send log remembers: seconds of the
// busiest video (a 5 Mbit/s stream sends about 500 a second), a few
// hundred KB per publisher.
const logSize = 4096

// NewSendLog returns an empty log.
func NewSendLog() *SendLog {
	return &SendLog{seed: maphash.MakeSeed(), at: make(map[uint64]int64, logSize)}
}

func (l *SendLog) add(payload []byte, now int64) {
	if len(payload) == 0 {
		return
	}
	k := maphash.Bytes(l.seed, payload)
	l.mu.Lock()
	old := l.ring[l.next]
	if old.at != 0 && l.at[old.key] == old.at {
		delete(l.at, old.key)
	}
	l.ring[l.next] = logEntry{key: k, at: now}
	l.next = (l.next + 1) % logSize
	l.at[k] = now
	l.mu.Unlock()
}

// SentAt returns when a packet with this payload was last sent, if the
// log still knows it.
func (l *SendLog) SentAt(payload []byte) (time.Time, bool) {
	if len(payload) == 0 {
		return time.Time{}, false
	}
	k := maphash.Bytes(l.seed, payload)
	l.mu.Lock()
	at, ok := l.at[k]
	l.mu.Unlock()
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, at), true
}

// sendSink is where the packets of one published track are counted (and
// logged, when the publisher keeps a send log).
type sendSink struct {
	packets, bytes *atomic.Uint64
	log            *SendLog
	// rid names the simulcast layer the SSRC carries ("" without
	// simulcast); mid returns its transceiver's media id once negotiated.
	// Both go into every packet's header extensions, by which the
	// receiver tells the layers apart.
	rid string
	mid func() string
	// pace is the pacing rate of the stream in bits per second (0: its
	// packets leave as they are written).
	pace int
}

// sendCounter is an interceptor that sees every RTP packet a client's
// publishers send, as it leaves (before SRTP), and hands it to the sink
// registered for its SSRC. Registered last, it wraps the others: NACK
// retransmissions, sent by an inner interceptor, do not pass through it,
// so each packet counts once.
type sendCounter struct {
	interceptor.NoOp
	c *Client
}

type sendCounterFactory struct{ c *Client }

func (f sendCounterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &sendCounter{c: f.c}, nil
}

func (s *sendCounter) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s.c.mu.Lock()
	sink, ok := s.c.sinks[info.SSRC]
	s.c.mu.Unlock()
	if !ok {
		return w
	}
	var midID, ridID uint8
	var mid, rid []byte
	if sink.rid != "" {
		for _, e := range info.RTPHeaderExtensions {
			switch e.URI {
			case sdp.SDESMidURI:
				midID = uint8(e.ID)
			case sdp.SDESRTPStreamIDURI:
				ridID = uint8(e.ID)
			}
		}
		mid, rid = []byte(sink.mid()), []byte(sink.rid)
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if midID != 0 && ridID != 0 {
			_ = h.SetExtension(midID, mid)
			_ = h.SetExtension(ridID, rid)
		}
		// Logged before the write: on loopback the forwarded copy can
		// reach a subscriber before the write returns.
		if sink.log != nil {
			sink.log.add(payload, time.Now().UnixNano())
		}
		n, err := w.Write(h, payload, a)
		if err == nil {
			sink.packets.Add(1)
			sink.bytes.Add(uint64(h.MarshalSize() + len(payload)))
		}
		return n, err
	})
}
