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

// SubscribeOptions choose what to receive (both by default).
type SubscribeOptions struct {
	NoAudio, NoVideo bool
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
	packets, bytes, frames, keyframes atomic.Uint64
	firstPacket, firstKeyframe        atomic.Int64 // unix nanos
	mu                                sync.Mutex
	haveSeq                           bool
	highest                           uint16
	expected                          uint64 // sequence numbers spanned
	delays                            []time.Duration
	codec                             string
}

// Packets received.
func (t *TrackStats) Packets() uint64 { return t.packets.Load() }

// Bytes of RTP payload received.
func (t *TrackStats) Bytes() uint64 { return t.bytes.Load() }

// Frames received (packets with the marker bit, for video).
func (t *TrackStats) Frames() uint64 { return t.frames.Load() }

// Keyframes received.
func (t *TrackStats) Keyframes() uint64 { return t.keyframes.Load() }

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

func (t *TrackStats) record(pkt *rtp.Packet, c sfu.Codec, video bool, now time.Time) {
	t.packets.Add(1)
	t.bytes.Add(uint64(len(pkt.Payload)))
	t.firstPacket.CompareAndSwap(0, now.UnixNano())
	if video {
		if pkt.Marker {
			t.frames.Add(1)
		}
		if sfu.IsKeyframe(c, pkt.Payload) {
			t.keyframes.Add(1)
			t.firstKeyframe.CompareAndSwap(0, now.UnixNano())
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.haveSeq {
		t.haveSeq, t.highest, t.expected = true, pkt.SequenceNumber, 1
	} else if d := pkt.SequenceNumber - t.highest; d != 0 && d < 0x8000 {
		t.expected += uint64(d)
		t.highest = pkt.SequenceNumber
	}
	off := 2 // VP8: descriptor byte, payload header byte
	if !video {
		off = 1 // Opus TOC byte
	}
	pl := pkt.Payload
	if len(pl) >= off+synthHeader && [4]byte(pl[off:off+4]) == magic && len(t.delays) < maxDelaySamples {
		sent := int64(binary.BigEndian.Uint64(pl[off+4:]))
		t.delays = append(t.delays, now.Sub(time.Unix(0, sent)))
	}
}

// Subscribe subscribes to a stream and starts counting its packets.
func (c *Client) Subscribe(ctx context.Context, streamID string, o SubscribeOptions) (*Subscription, error) {
	audio, video := !o.NoAudio, !o.NoVideo
	m, err := c.request(ctx, signaling.Request{Type: "subscribe", StreamID: streamID, Audio: &audio, Video: &video})
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
				st.record(&pkt, vc, video, time.Now())
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
