package rtcclient

import (
	"context"
	"encoding/binary"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/signaling"
)

// SubscribeOptions choose what to receive (both by default) and how
// delay is measured.
type SubscribeOptions struct {
	NoAudio, NoVideo bool

	// Sent is the publisher's send log (Publisher.Sent), when the
	// publisher runs in this process: packets that carry no send time of
	// their own (file media) are then looked up there to measure their
	// one-way delay.
	Sent *SendLog
	// OnDelay, when set, receives each one-way delay measured instead of
	// the track keeping it (Delays then returns none), so that a long run
	// with many tracks can fold them into its own bounded summary. It is
	// called on the track's reading goroutine: it must be quick.
	OnDelay func(video bool, d time.Duration)

	// PreferredWidth and PreferredHeight ask for the best simulcast layer
	// no larger than that (0: any); see Subscription.SetPreferredResolution.
	PreferredWidth, PreferredHeight int
}

// Subscription receives one stream and counts what arrives.
type Subscription struct {
	ID       string
	StreamID string
	pc       *webrtc.PeerConnection
	client   *Client
	started  time.Time
	once     sync.Once
	wg       sync.WaitGroup

	Audio, Video TrackStats
}

// TrackStats count one received track. Read them with the methods; they
// are updated as packets arrive.
type TrackStats struct {
	packets, bytes, rtpBytes, frames, keyframes atomic.Uint64
	firstPacket, firstKeyframe                  atomic.Int64  // unix nanos
	size                                        atomic.Uint32 // width<<16 | height of the last VP8 keyframe
	mu                                          sync.Mutex
	haveSeq                                     bool
	highest                                     uint16
	expected                                    uint64 // sequence numbers spanned
	delays                                      []time.Duration
	codec                                       string

	// RFC 3550 interarrival jitter, in RTP timestamp units.
	clockRate   uint32
	haveArrival bool
	lastArrival int64  // unix nanos
	lastTS      uint32 // RTP timestamp of that packet
	jitter      float64
}

// Packets received.
func (t *TrackStats) Packets() uint64 { return t.packets.Load() }

// Bytes of RTP payload received.
func (t *TrackStats) Bytes() uint64 { return t.bytes.Load() }

// RTPBytes is the size of the RTP packets received, headers included
// (after SRTP: without its tag, nor UDP and IP headers).
func (t *TrackStats) RTPBytes() uint64 { return t.rtpBytes.Load() }

// Jitter is the interarrival jitter of RFC 3550 (section 6.4.1): the
// smoothed variation of the packets' transit times, as a receiver report
// would carry it, in time rather than timestamp units.
func (t *TrackStats) Jitter() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clockRate == 0 {
		return 0
	}
	return time.Duration(t.jitter / float64(t.clockRate) * float64(time.Second))
}

// Frames received (packets with the marker bit, for video).
func (t *TrackStats) Frames() uint64 { return t.frames.Load() }

// Keyframes received.
func (t *TrackStats) Keyframes() uint64 { return t.keyframes.Load() }

// KeyframeSize is the picture size of the last VP8 keyframe received
// (0x0 before one, or for other codecs).
func (t *TrackStats) KeyframeSize() (width, height int) {
	v := t.size.Load()
	return int(v >> 16), int(v & 0xffff)
}

// FirstPacket is when the first packet arrived (zero if none yet).
func (t *TrackStats) FirstPacket() time.Time { return unixTime(t.firstPacket.Load()) }

// FirstKeyframe is when the first keyframe arrived (zero if none yet).
func (t *TrackStats) FirstKeyframe() time.Time { return unixTime(t.firstKeyframe.Load()) }

func unixTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Codec is the MIME type of the received track.
func (t *TrackStats) Codec() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.codec
}

// Expected is how many packets the sequence numbers spanned since the
// first one; Expected - Packets is the loss (duplicates aside).
func (t *TrackStats) Expected() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.expected
}

// Delays returns the one-way delays measured on synthetic packets, sorted.
func (t *TrackStats) Delays() []time.Duration {
	t.mu.Lock()
	out := append([]time.Duration(nil), t.delays...)
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// maxDelaySamples bounds the memory a long run spends on delay samples.
const maxDelaySamples = 1 << 16

// record counts one packet of size bytes (header included) that arrived
// at now. sent and onDelay are the subscription's options.
func (t *TrackStats) record(pkt *rtp.Packet, size int, c sfu.Codec, video bool, now time.Time, sent *SendLog, onDelay func(bool, time.Duration)) {
	t.packets.Add(1)
	t.bytes.Add(uint64(len(pkt.Payload)))
	t.rtpBytes.Add(uint64(size))
	t.firstPacket.CompareAndSwap(0, now.UnixNano())
	if video {
		if pkt.Marker {
			t.frames.Add(1)
		}
		if sfu.IsKeyframe(c, pkt.Payload) {
			t.keyframes.Add(1)
			t.firstKeyframe.CompareAndSwap(0, now.UnixNano())
			if w, h, ok := sfu.VP8KeyframeSize(pkt.Payload); ok && c == sfu.CodecVP8 {
				t.size.Store(uint32(w)<<16 | uint32(h))
			}
		}
	}
	// The send time: carried by a synthetic payload, or else found in
	// the publisher's send log.
	var at time.Time
	off := 2 // VP8: descriptor byte, payload header byte
	if !video {
		off = 1 // Opus TOC byte
	}
	pl := pkt.Payload
	if len(pl) >= off+synthHeader && [4]byte(pl[off:off+4]) == magic {
		at = time.Unix(0, int64(binary.BigEndian.Uint64(pl[off+4:])))
	} else if sent != nil {
		at, _ = sent.SentAt(pl)
	}

	t.mu.Lock()
	if !t.haveSeq {
		t.haveSeq, t.highest, t.expected = true, pkt.SequenceNumber, 1
	} else if d := pkt.SequenceNumber - t.highest; d != 0 && d < 0x8000 {
		t.expected += uint64(d)
		t.highest = pkt.SequenceNumber
	}
	t.updateJitter(pkt.Timestamp, now.UnixNano())
	if !at.IsZero() && onDelay == nil && len(t.delays) < maxDelaySamples {
		t.delays = append(t.delays, now.Sub(at))
	}
	t.mu.Unlock()
	if !at.IsZero() && onDelay != nil {
		onDelay(video, now.Sub(at))
	}
}

// updateJitter folds one arrival into the RFC 3550 estimate (appendix
// A.8): D is the change of transit time between two packets, the
// difference of their arrival times minus that of their RTP timestamps,
// and J moves a sixteenth of the way to |D|. Called with t.mu held.
func (t *TrackStats) updateJitter(ts uint32, arrival int64) {
	if t.clockRate == 0 {
		return
	}
	if t.haveArrival {
		arrived := float64(arrival-t.lastArrival) * float64(t.clockRate) / float64(time.Second)
		d := arrived - float64(int32(ts-t.lastTS)) // timestamps wrap
		if d < 0 {
			d = -d
		}
		t.jitter += (d - t.jitter) / 16
	}
	t.haveArrival, t.lastArrival, t.lastTS = true, arrival, ts
}

// Subscribe subscribes to a stream and starts counting its packets.
func (c *Client) Subscribe(ctx context.Context, streamID string, o SubscribeOptions) (*Subscription, error) {
	audio, video := !o.NoAudio, !o.NoVideo
	req := signaling.Request{Type: "subscribe", StreamID: streamID, Audio: &audio, Video: &video}
	if o.PreferredWidth != 0 || o.PreferredHeight != 0 {
		req.PreferredResolution = &signaling.Dimensions{Width: o.PreferredWidth, Height: o.PreferredHeight}
	}
	m, err := c.request(ctx, req)
	if err != nil {
		return nil, err
	}
	pc, err := c.api.NewPeerConnection(c.peerConfig())
	if err != nil {
		return nil, err
	}
	s := &Subscription{ID: m.SubscriberID, StreamID: streamID, pc: pc, client: c, started: time.Now()}
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		st := &s.Audio
		video := track.Kind() == webrtc.RTPCodecTypeVideo
		if video {
			st = &s.Video
		}
		st.mu.Lock()
		st.codec = track.Codec().MimeType
		st.clockRate = track.Codec().ClockRate
		st.mu.Unlock()
		vc := sfu.CodecFromMime(track.Codec().MimeType)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			var pkt rtp.Packet
			buf := make([]byte, 1500)
			for {
				n, _, err := track.Read(buf)
				if err != nil {
					return
				}
				if pkt.Unmarshal(buf[:n]) != nil {
					continue
				}
				st.record(&pkt, n, vc, video, time.Now(), o.Sent, o.OnDelay)
			}
		}()
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.Offer}); err != nil {
		s.close()
		return nil, err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		s.close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		s.close()
		return nil, err
	}
	<-gathered
	if _, err := c.request(ctx, signaling.Request{Type: "answer", SubscriberID: s.ID, SDP: pc.LocalDescription().SDP}); err != nil {
		s.close()
		return nil, err
	}
	c.mu.Lock()
	c.subs[s.ID] = s
	c.mu.Unlock()
	return s, nil
}

// Started is when Subscribe was called.
func (s *Subscription) Started() time.Time { return s.started }

// Unsubscribe ends the subscription.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	_, err := s.client.request(ctx, signaling.Request{Type: "unsubscribe", SubscriberID: s.ID})
	s.client.mu.Lock()
	delete(s.client.subs, s.ID)
	s.client.mu.Unlock()
	s.close()
	return err
}

// PeerConnection exposes the subscription's connection (for stats).
func (s *Subscription) PeerConnection() *webrtc.PeerConnection { return s.pc }

func (s *Subscription) close() {
	s.once.Do(func() { s.pc.Close() })
	s.wg.Wait()
}

// SetPreferredResolution asks for the best simulcast layer of the stream
// no larger than width x height (0 for either: any); 0x0 asks for the
// best layer.
func (s *Subscription) SetPreferredResolution(ctx context.Context, width, height int) error {
	_, err := s.client.request(ctx, signaling.Request{Type: "setPreferredResolution", SubscriberID: s.ID,
		PreferredResolution: &signaling.Dimensions{Width: width, Height: height}})
	return err
}
