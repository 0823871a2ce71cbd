package sfu

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// recordingWriter keeps the packets a down track sends.
type recordingWriter struct{ sent []rtp.Packet }

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.sent = append(w.sent, rtp.Packet{Header: *h, Payload: append([]byte(nil), payload...)})
	return len(payload), nil
}

func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

func TestDownTrackStartsOnKeyframeAndAnswersNACKs(t *testing.T) {
	r, _ := benchReceiver(0)
	w := &recordingWriter{}
	d := newDownTrack(r, "s")
	d.writer, d.ssrc, d.pt = w, 777, 100
	r.addDown(d)
	d.setLive(true)

	send := func(seq uint16, key bool) {
		payload := []byte{0x10, 0x01, byte(seq)} // VP8, frame start, inter frame
		if key {
			payload[1] = 0x00
		}
		raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}, Payload: payload}).Marshal()
		var pkt rtp.Packet
		if err := pkt.Unmarshal(raw); err != nil {
			t.Fatal(err)
		}
		r.layers[0].cache.put(seq, raw)
		d.writeRTP(0, &pkt, IsKeyframe(CodecVP8, payload), time.Now().UnixNano())
	}
	send(10, false) // held back: no keyframe yet
	send(11, true)
	send(12, false)
	send(14, false) // 13 is lost on the way in
	if len(w.sent) != 3 || w.sent[0].Payload[2] != 11 {
		t.Fatalf("sent %d packets, first payload %v; want 3, starting at the keyframe", len(w.sent), w.sent[0].Payload)
	}
	for _, p := range w.sent {
		if p.SSRC != 777 || p.PayloadType != 100 || p.Extension {
			t.Fatalf("header not rewritten: %+v", p.Header)
		}
	}
	first := w.sent[0].SequenceNumber
	if w.sent[1].SequenceNumber != first+1 || w.sent[2].SequenceNumber != first+3 {
		t.Fatalf("sequence numbers %d %d %d: the gap of the lost packet must stay", first, w.sent[1].SequenceNumber, w.sent[2].SequenceNumber)
	}

	// The subscriber lost the packet after the keyframe and asks again:
	// it comes from the receiver's cache with the subscriber's numbering.
	d.retransmit(first + 1)
	if len(w.sent) != 4 {
		t.Fatalf("no retransmission")
	}
	re := w.sent[3]
	if re.SequenceNumber != first+1 || re.Timestamp != w.sent[1].Timestamp || !bytes.Equal(re.Payload, w.sent[1].Payload) || re.SSRC != 777 {
		t.Fatalf("retransmitted %+v, want a copy of %+v", re.Header, w.sent[1].Header)
	}
	// A packet the publisher never delivered cannot be resent.
	d.retransmit(first + 2)
	if len(w.sent) != 4 {
		t.Fatalf("resent a packet that never arrived")
	}
}

func TestPacketCache(t *testing.T) {
	c := newPacketCache(4)
	buf := make([]byte, maxPacket)
	c.put(1, []byte{1})
	c.put(5, []byte{5}) // same slot as 1: replaces it
	if n := c.get(1, buf); n != 0 {
		t.Fatal("an evicted packet was found")
	}
	if n := c.get(5, buf); n != 1 || buf[0] != 5 {
		t.Fatalf("get(5) = %d %v", n, buf[:n])
	}
	c.put(6, make([]byte, maxPacket+1)) // too big: not kept
	if n := c.get(6, buf); n != 0 {
		t.Fatal("an oversized packet was kept")
	}
}

// A down track of a simulcast receiver forwards one layer: the one it
// wants, from that layer's keyframe on; it moves on the next keyframe of
// a new choice, falls back to the best lower layer while its own is
// silent, and the subscriber sees one gapless sequence throughout.
func TestDownTrackLayers(t *testing.T) {
	r := newReceiver(webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96,
	}, nil, "q", "h", "f")
	w := &recordingWriter{}
	d := newDownTrack(r, "s")
	d.writer, d.ssrc, d.pt = w, 777, 100
	r.addDown(d)
	d.setLive(true)
	if d.Layer() != -1 || d.want.Load() != 2 {
		t.Fatalf("a new track: layer %d, wants %d; want -1 and the best (2)", d.Layer(), d.want.Load())
	}

	now := time.Now().UnixNano()
	seqs := [3]uint16{100, 2000, 30000}
	// deliver hands layer l's next packet to the receiver as its read
	// loop does: a VP8 frame naming its layer (a keyframe when key is
	// set), or, with pad, padding only.
	deliver := func(l int, key, pad bool) {
		seqs[l]++
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: uint32(l + 1), SequenceNumber: seqs[l], Timestamp: uint32(now / 1e4)}}
		if pad {
			pkt.Padding, pkt.PaddingSize = true, 200
		} else {
			pkt.Payload = []byte{0x10, 0x01, byte(l)}
			if key {
				pkt.Payload[1] = 0x00
			}
		}
		r.layers[l].heard(&pkt, now)
		r.forward(l, &pkt, nil, IsKeyframe(CodecVP8, pkt.Payload), now)
	}
	// send delivers one packet of each layer (layers in skip are silent);
	// key makes it a keyframe on the layers listed.
	send := func(key []int, skip ...int) {
		now += int64(10 * time.Millisecond)
		for l := range 3 {
			if !slices.Contains(skip, l) {
				deliver(l, slices.Contains(key, l), false)
			}
		}
	}
	// layersSent returns the layer (payload's last byte) of what was
	// sent since from, and checks the numbering has no gap.
	layersSent := func(from int) []byte {
		t.Helper()
		var out []byte
		for i, p := range w.sent[from:] {
			if len(p.Payload) == 0 {
				out = append(out, 'p') // padding
			} else {
				out = append(out, p.Payload[2])
			}
			if j := from + i; j > 0 && p.SequenceNumber != w.sent[j-1].SequenceNumber+1 {
				t.Fatalf("packet %d: sequence %d after %d", j, p.SequenceNumber, w.sent[j-1].SequenceNumber)
			}
		}
		return out
	}

	send(nil)         // no keyframe: nothing
	send([]int{0, 1}) // keyframes of the lower layers only: nothing
	send([]int{2})    // the best layer's keyframe: starts there
	send(nil)         // and stays
	if got := layersSent(0); string(got) != "\x02\x02" {
		t.Fatalf("sent layers %v, want 2 2", got)
	}

	d.SetLayer(0)
	send(nil)         // still the old layer until the new one's keyframe
	send([]int{0})    // moves to 0
	send([]int{1, 2}) // other layers' keyframes change nothing
	if got := layersSent(2); string(got) != "\x02\x00\x00" {
		t.Fatalf("after SetLayer(0): %v, want 2 0 0", got)
	}
	if d.switches.Load() != 1 {
		t.Fatalf("%d switches", d.switches.Load())
	}

	// Wanting the best layer while it is silent: the best lower one that
	// is not (layer 1) is taken on its keyframe (layer 0 going on until
	// then); when the best one comes back, the track returns to it on its
	// keyframe (layer 1 going on until then).
	d.SetLayer(2)
	r.layers[2].last.Store(now - int64(2*layerTimeout))
	send([]int{1}, 2)
	send(nil, 2)
	send([]int{2})
	send(nil)
	if got := layersSent(5); string(got) != "\x00\x01\x01\x01\x02\x02" {
		t.Fatalf("fallback and back: %v, want 0 1 1 1 2 2", got)
	}

	// The best layer carrying only padding (its sender probing the
	// bandwidth while its encoder drops frames) is silent too: after
	// layerTimeout the track moves to layer 1 on its keyframe.
	from := len(w.sent)
	pad := func(key bool) {
		now += int64(10 * time.Millisecond)
		deliver(2, false, true)
		deliver(0, false, false)
		deliver(1, key, false)
	}
	for range int(layerTimeout/(10*time.Millisecond)) + 1 {
		pad(false)
	}
	pad(true)
	pad(false)
	got := layersSent(from)
	if n := len(got); n < 3 || string(got[n-2:]) != "\x01\x01" || strings.Trim(string(got[:n-2]), "p") != "" {
		t.Fatalf("padding only on the best layer: sent %q, want padding, then 1 from its keyframe", got)
	}
}
