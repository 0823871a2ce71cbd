package sfu

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// DownTrack sends one receiver's packets to one subscriber. It is a
// webrtc.TrackLocal: Pion binds it to the subscriber's peer connection,
// and the receiver's read loop writes through it.
type DownTrack struct {
	id, streamID string
	recv         *Receiver

	mu       sync.Mutex
	writer   webrtc.TrackLocalWriter
	ssrc     uint32
	pt       uint8
	rw       Rewriter
	tsOffset uint32 // out minus source timestamp of the last packet
	hdr      rtp.Header
	retx     [maxPacket]byte
	retxPkt  rtp.Packet

	// layer is the receiver's layer being forwarded: -1 while a video
	// track waits for its first keyframe (after it went live or resumed).
	// It changes under mu; reads outside it are a hint, checked again
	// under mu. want is the layer the subscriber prefers.
	layer atomic.Int32
	want  atomic.Int32

	paused, live          atomic.Bool
	packets, bytes, nacks atomic.Uint64
	retransmits, switches atomic.Uint64
}

func newDownTrack(recv *Receiver, streamID string) *DownTrack {
	d := &DownTrack{id: recv.kind.String(), streamID: streamID, recv: recv}
	d.want.Store(int32(recv.top()))
	if recv.kind != webrtc.RTPCodecTypeVideo {
		d.layer.Store(0) // audio never waits for a keyframe
	} else {
		d.layer.Store(-1)
	}
	return d
}

// ID implements webrtc.TrackLocal.
func (d *DownTrack) ID() string { return d.id }

// RID implements webrtc.TrackLocal; simulcast layers are chosen inside
// the SFU, so a down track has none.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *DownTrack) StreamID() string { return d.streamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.recv.kind }

// ErrCodecNotSupported is returned when the subscriber cannot decode the
// publisher's codec.
var ErrCodecNotSupported = errors.New("sfu: subscriber does not support the stream's codec")

// Bind implements webrtc.TrackLocal: it picks, among the codecs the
// subscriber accepted, the publisher's.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	src := d.recv.codec
	var chosen *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, src.MimeType) {
			continue
		}
		if chosen == nil || c.SDPFmtpLine == src.SDPFmtpLine {
			c := c
			chosen = &c
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, ErrCodecNotSupported
	}
	d.mu.Lock()
	d.writer = ctx.WriteStream()
	d.ssrc = uint32(ctx.SSRC())
	d.pt = uint8(chosen.PayloadType)
	d.mu.Unlock()
	return *chosen, nil
}

// setLive starts forwarding once the subscriber's transport is up (or
// back up): packets written before DTLS completes would be dropped, and a
// keyframe lost that way would leave the picture frozen until the next
// one. Video then starts on a fresh keyframe.
func (d *DownTrack) setLive(live bool) {
	if live {
		d.waitKeyframe()
	}
	d.live.Store(live)
	if live {
		d.requestFirstKeyframe(time.Now().UnixNano())
	}
}

// waitKeyframe makes a video track wait for a keyframe before it sends
// again.
func (d *DownTrack) waitKeyframe() {
	if d.recv.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	d.mu.Lock()
	d.layer.Store(-1)
	d.mu.Unlock()
}

// requestFirstKeyframe asks for a keyframe of the layer the track waits
// for.
func (d *DownTrack) requestFirstKeyframe(now int64) {
	d.recv.requestKeyframe(d.recv.layerFor(int(d.want.Load()), now), true)
}

// SetLayer sets the simulcast layer the subscriber prefers (0 is the
// lowest; anything above the best is the best). The track moves to it on
// its next keyframe, asked for now; while that layer sends nothing, the
// best lower one that does is forwarded instead.
func (d *DownTrack) SetLayer(want int) {
	want = min(max(want, 0), d.recv.top())
	if d.want.Swap(int32(want)) == int32(want) || d.recv.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	if d.live.Load() && !d.paused.Load() {
		d.requestFirstKeyframe(time.Now().UnixNano())
	}
}

// Layer returns the layer being forwarded, or -1 while waiting for a
// keyframe.
func (d *DownTrack) Layer() int { return int(d.layer.Load()) }

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	d.writer = nil
	d.mu.Unlock()
	return nil
}

// SetPaused stops (true) or resumes (false) forwarding; a resumed video
// track waits for a keyframe.
func (d *DownTrack) SetPaused(p bool) {
	if d.paused.Swap(p) == p || p {
		return
	}
	d.waitKeyframe()
	d.requestFirstKeyframe(time.Now().UnixNano())
}

// Packets counts the packets sent to the subscriber (retransmissions too).
func (d *DownTrack) Packets() uint64 { return d.packets.Load() }

// writeRTP forwards one packet of a layer from the receiver's read loop.
// Packets of other layers than the one forwarded are skipped, except a
// keyframe of the layer the track should move to, which switches it.
func (d *DownTrack) writeRTP(layer int, pkt *rtp.Packet, keyframe bool, arrival int64) {
	if d.paused.Load() || !d.live.Load() {
		return
	}
	target := -1
	if cur := int(d.layer.Load()); d.recv.kind == webrtc.RTPCodecTypeVideo {
		target = d.recv.layerFor(int(d.want.Load()), arrival)
		if layer != cur && layer != target {
			return
		}
		if layer != cur && !keyframe {
			d.recv.requestKeyframe(target, true)
			return
		}
		if layer == cur && cur != target {
			// Still on the old layer: keep the picture going and ask
			// for the keyframe to move on.
			d.recv.requestKeyframe(target, true)
		}
	}
	d.mu.Lock()
	if d.writer == nil {
		d.mu.Unlock()
		return
	}
	if cur := int(d.layer.Load()); layer != cur {
		if layer != target || !keyframe {
			// The track moved meanwhile: a straggler.
			d.mu.Unlock()
			return
		}
		if cur >= 0 {
			d.switches.Add(1)
		}
		d.layer.Store(int32(layer))
		// What was skipped while waiting is not loss, and another layer
		// is another source: continue the numbering from here.
		d.rw.Switch(d.recv.codec.ClockRate)
	}
	seq, ts, ok := d.rw.Rewrite(pkt.SequenceNumber, pkt.Timestamp, arrival)
	if !ok {
		d.mu.Unlock()
		return
	}
	d.tsOffset = ts - pkt.Timestamp
	// The header lives in the down track, not on the stack: handed to an
	// interface method, a local would escape and cost an allocation per
	// packet. Writing under the lock keeps it ours until sent.
	d.hdr = d.header(&pkt.Header, seq, ts)
	n, err := d.writer.WriteRTP(&d.hdr, pkt.Payload)
	d.mu.Unlock()
	if err == nil {
		d.packets.Add(1)
		d.bytes.Add(uint64(n))
	}
}

// header copies a source header into the subscriber's numbering, without
// the publisher's header extensions (their ids belong to the publisher's
// negotiation, not the subscriber's).
func (d *DownTrack) header(src *rtp.Header, seq uint16, ts uint32) rtp.Header {
	return rtp.Header{
		Version:        2,
		Padding:        src.Padding,
		PaddingSize:    src.PaddingSize,
		Marker:         src.Marker,
		PayloadType:    d.pt,
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           d.ssrc,
	}
}

// retransmit answers a NACK for the subscriber's sequence number seq from
// the receiver's cache.
func (d *DownTrack) retransmit(seq uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.writer == nil {
		return
	}
	layer := int(d.layer.Load())
	if layer < 0 {
		return
	}
	src, ok := d.rw.Reverse(seq)
	if !ok {
		return
	}
	n := d.recv.layers[layer].cache.get(src, d.retx[:])
	if n == 0 || d.retxPkt.Unmarshal(d.retx[:n]) != nil {
		return
	}
	d.hdr = d.header(&d.retxPkt.Header, seq, d.retxPkt.Timestamp+d.tsOffset)
	if _, err := d.writer.WriteRTP(&d.hdr, d.retxPkt.Payload); err == nil {
		d.retransmits.Add(1)
		d.packets.Add(1)
	}
}

// rtcpLoop reads the subscriber's feedback for this track until the
// sender stops: keyframe requests go to the publisher (throttled), NACKs
// are answered here.
func (d *DownTrack) rtcpLoop(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if l := int(d.layer.Load()); l >= 0 {
					d.recv.requestKeyframe(l, false)
				}
			case *rtcp.TransportLayerNack:
				for _, pair := range p.Nacks {
					for _, seq := range pair.PacketList() {
						d.nacks.Add(1)
						d.retransmit(seq)
					}
				}
			}
		}
	}
}
