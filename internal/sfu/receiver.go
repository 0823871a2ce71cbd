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

// layerTimeout is how long a simulcast layer may send nothing before its
// subscribers move to the best layer still arriving (browsers stop
// sending their top layers when bandwidth or CPU runs short).
const layerTimeout = time.Second

// Receiver is one incoming track of a published stream. Its read loops
// (one per simulcast layer) cache every packet and hand it to each down
// track.
type Receiver struct {
	kind  webrtc.RTPCodecType
	codec webrtc.RTPCodecParameters
	vc    Codec
	pc    *webrtc.PeerConnection
	batch *sendBatch // nil: down tracks write one packet at a time

	// layers are the encodings the publisher sends, lowest quality first:
	// one without simulcast.
	layers []*layer

	// downs and taps are replaced, never modified, so the read loop walks
	// them without a lock shared with subscribers and recorders coming and
	// going. taps is nil while there are none.
	mu    sync.Mutex
	downs atomic.Pointer[[]*DownTrack]
	taps  atomic.Pointer[[]*tap]

	started   chan struct{} // closed when the first packet arrived
	startOnce sync.Once
}

// layer is one encoding of a track: a simulcast layer, or the only one.
type layer struct {
	rid      string
	ssrc     atomic.Uint32
	cache    *packetCache
	throttle *KeyframeThrottle
	last     atomic.Int64 // arrival (Unix nanoseconds) of the newest packet

	packets, bytes atomic.Uint64
}

// newReceiver returns the receiver of a track sent as the given simulcast
// layers (lowest quality first), or as one encoding when rids is empty.
func newReceiver(kind webrtc.RTPCodecType, codec webrtc.RTPCodecParameters, pc *webrtc.PeerConnection, rids ...string) *Receiver {
	size := 512 // ≈ 1 s of 4 Mbps video
	if kind == webrtc.RTPCodecTypeAudio {
		size = 64 // audio NACKs are rare; Opus FEC covers most loss
	}
	if len(rids) == 0 {
		rids = []string{""}
	}
	r := &Receiver{
		kind: kind, codec: codec, vc: CodecFromMime(codec.MimeType), pc: pc,
		started: make(chan struct{}),
	}
	for _, rid := range rids {
		r.layers = append(r.layers, &layer{rid: rid, cache: newPacketCache(size), throttle: NewKeyframeThrottle(keyframeInterval)})
	}
	r.downs.Store(&[]*DownTrack{})
	return r
}

// Kind is audio or video.
func (r *Receiver) Kind() webrtc.RTPCodecType { return r.kind }

// Codec is the negotiated codec of the publisher's track.
func (r *Receiver) Codec() webrtc.RTPCodecParameters { return r.codec }

// Layers is how many encodings the publisher sends: its simulcast layers,
// or 1.
func (r *Receiver) Layers() int { return len(r.layers) }

// Packets counts what arrived from the publisher, every layer together.
func (r *Receiver) Packets() uint64 {
	var n uint64
	for _, l := range r.layers {
		n += l.packets.Load()
	}
	return n
}

// Bytes counts the RTP bytes that arrived, every layer together.
func (r *Receiver) Bytes() uint64 {
	var n uint64
	for _, l := range r.layers {
		n += l.bytes.Load()
	}
	return n
}

// top is the layer recorders and compositors take: the best one.
func (r *Receiver) top() int { return len(r.layers) - 1 }

// layerFor returns the layer a subscriber wanting layer want gets at now:
// that one, or the best lower one still arriving. With nothing arriving
// it is want itself, to start on when it does.
func (r *Receiver) layerFor(want int, now int64) int {
	want = min(max(want, 0), len(r.layers)-1)
	if len(r.layers) == 1 {
		return want
	}
	for l := want; l >= 0; l-- {
		if now-r.layers[l].last.Load() < int64(layerTimeout) {
			return l
		}
	}
	for l := want + 1; l < len(r.layers); l++ {
		if now-r.layers[l].last.Load() < int64(layerTimeout) {
			return l
		}
	}
	return want
}

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

// RequestKeyframe asks the publisher for a keyframe of its best layer, at
// most once per keyframeInterval.
func (r *Receiver) RequestKeyframe() { r.requestKeyframe(r.top(), false) }

// requestKeyframe asks for a keyframe of one layer; first marks a request
// for a subscriber that has no picture yet (KeyframeThrottle.AllowFirst).
func (r *Receiver) requestKeyframe(layer int, first bool) {
	if r.kind != webrtc.RTPCodecTypeVideo || layer < 0 || layer >= len(r.layers) {
		return
	}
	l := r.layers[layer]
	ssrc := l.ssrc.Load()
	if ssrc == 0 {
		return
	}
	now := time.Now().UnixNano()
	if first && !l.throttle.AllowFirst(now) || !first && !l.throttle.Allow(now) {
		return
	}
	_ = r.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// heard records a packet's arrival at now, for layerFor: media only.
// Padding (a sender probing the bandwidth, on its best layer, while that
// layer's encoder may be dropping most frames) does not keep a layer
// live, or its subscribers would wait on it for pictures that do not
// come.
func (l *layer) heard(pkt *rtp.Packet, now int64) {
	if len(pkt.Payload) > 0 {
		l.last.Store(now)
	}
}

// layerOf returns the index of the layer with that RID, or -1.
func (r *Receiver) layerOf(rid string) int {
	for i, l := range r.layers {
		if l.rid == rid {
			return i
		}
	}
	return -1
}

// readLoop forwards one layer's packets until the track ends (its peer
// connection closed).
func (r *Receiver) readLoop(track *webrtc.TrackRemote, layer int) {
	l := r.layers[layer]
	l.ssrc.Store(uint32(track.SSRC()))
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
		l.packets.Add(1)
		l.bytes.Add(uint64(n))
		keyframe := r.kind == webrtc.RTPCodecTypeVideo && IsKeyframe(r.vc, pkt.Payload)
		now := time.Now().UnixNano()
		l.heard(&pkt, now)
		if keyframe {
			l.throttle.Keyframe(now)
		}
		r.forward(layer, &pkt, buf[:n], keyframe, now)
	}
}

// forward caches one packet of a layer (raw is its wire form) and hands
// it to every down track, then, for the best layer, to every tap:
// subscribers first, since they wait for it in real time and a recorder
// does not.
func (r *Receiver) forward(layer int, pkt *rtp.Packet, raw []byte, keyframe bool, now int64) {
	r.layers[layer].cache.put(pkt.SequenceNumber, raw)
	if downs := *r.downs.Load(); len(downs) > 0 {
		r.batch.begin()
		for _, d := range downs {
			d.writeRTP(layer, pkt, keyframe, now)
		}
		r.batch.end()
	}
	if layer != r.top() {
		return
	}
	if taps := r.taps.Load(); taps != nil {
		for _, t := range *taps {
			t.fn(pkt, keyframe)
		}
	}
}
