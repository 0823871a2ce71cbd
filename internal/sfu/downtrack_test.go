package sfu

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
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
