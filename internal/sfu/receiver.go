package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// keyframeInterval is the shortest time between two keyframe requests
// Parley sends one publisher for one track, however many subscribers ask.
const keyframeInterval = 300 * time.Millisecond

// Receiver is one incoming track of a published stream. Its read loop
// caches every packet and hands it to each down track.
type Receiver struct {
	kind  webrtc.RTPCodecType
	codec webrtc.RTPCodecParameters
	vc    Codec
	pc    *webrtc.PeerConnection
	batch *sendBatch // nil: down tracks write one packet at a time

	ssrc     atomic.Uint32
	cache    *packetCache
	throttle *KeyframeThrottle

	// downs and taps are replaced, never modified, so the read loop walks
	// them without a lock shared with subscribers and recorders coming and
	// going. taps is nil while there are none.
	mu    sync.Mutex
	downs atomic.Pointer[[]*DownTrack]
	taps  atomic.Pointer[[]*tap]

	packets, bytes atomic.Uint64
	started        chan struct{} // closed when the first packet arrived
	startOnce      sync.Once
}

func newReceiver(kind webrtc.RTPCodecType, codec webrtc.RTPCodecParameters, pc *webrtc.PeerConnection) *Receiver {
	size := 512 // ≈ 1 s of 4 Mbps video
	if kind == webrtc.RTPCodecTypeAudio {
		size = 64 // audio NACKs are rare; Opus FEC covers most loss
	}
	r := &Receiver{
		kind: kind, codec: codec, vc: CodecFromMime(codec.MimeType), pc: pc,
		cache: newPacketCache(size), throttle: NewKeyframeThrottle(keyframeInterval),
		started: make(chan struct{}),
	}
	r.downs.Store(&[]*DownTrack{})
	return r
}

// Kind is audio or video.
func (r *Receiver) Kind() webrtc.RTPCodecType { return r.kind }

// Codec is the negotiated codec of the publisher's track.
func (r *Receiver) Codec() webrtc.RTPCodecParameters { return r.codec }

// Packets and Bytes count what arrived from the publisher.
func (r *Receiver) Packets() uint64 { return r.packets.Load() }

// Bytes counts the RTP bytes that arrived.
func (r *Receiver) Bytes() uint64 { return r.bytes.Load() }

func (r *Receiver) addDown(d *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.downs.Load()
	next := make([]*DownTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, d)
	r.downs.Store(&next)
}

func (r *Receiver) removeDown(d *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.downs.Load()
	next := make([]*DownTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			next = append(next, x)
		}
	}
	r.downs.Store(&next)
}

// RequestKeyframe asks the publisher for a keyframe, at most once per
// keyframeInterval.
func (r *Receiver) RequestKeyframe() { r.requestKeyframe(false) }

// requestFirstKeyframe asks for a keyframe for a subscriber that has no
// picture yet, throttled by KeyframeThrottle.AllowFirst.
func (r *Receiver) requestFirstKeyframe() { r.requestKeyframe(true) }

func (r *Receiver) requestKeyframe(first bool) {
	if r.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	ssrc := r.ssrc.Load()
	if ssrc == 0 {
		return
	}
	if now := time.Now().UnixNano(); !r.throttle.allow(now, first) {
		return
	}
	_ = r.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// readLoop forwards the track's packets until the track ends (its peer
// connection closed).
func (r *Receiver) readLoop(track *webrtc.TrackRemote) {
	r.ssrc.Store(uint32(track.SSRC()))
	var (
		buf [maxPacket]byte
		pkt rtp.Packet
	)
	for {
		n, _, err := track.Read(buf[:])
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		r.startOnce.Do(func() { close(r.started) })
		r.packets.Add(1)
		r.bytes.Add(uint64(n))
		keyframe := r.kind == webrtc.RTPCodecTypeVideo && IsKeyframe(r.vc, pkt.Payload)
		now := time.Now().UnixNano()
		if keyframe {
			r.throttle.Keyframe(now)
		}
		r.forward(&pkt, buf[:n], keyframe, now)
	}
}

// forward caches one packet (raw is its wire form) and hands it to every
// down track, then to every tap: subscribers first, since they wait for
// it in real time and a recorder does not.
func (r *Receiver) forward(pkt *rtp.Packet, raw []byte, keyframe bool, now int64) {
	r.cache.put(pkt.SequenceNumber, raw)
	if downs := *r.downs.Load(); len(downs) > 0 {
		r.batch.begin()
		for _, d := range downs {
			d.writeRTP(pkt, keyframe, now)
		}
		r.batch.end()
	}
	if taps := r.taps.Load(); taps != nil {
		for _, t := range *taps {
			t.fn(pkt, keyframe)
		}
	}
}
