package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestTapSeesPacketsAfterSubscribers(t *testing.T) {
	r, ws := benchReceiver(1)
	raw := make([]byte, 200)
	send := func(seq uint16, key bool) {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, SequenceNumber: seq}, Payload: raw[12:]}
		r.forward(0, &pkt, raw, key, time.Now().UnixNano())
	}

	type seen struct {
		seq            uint16
		key            bool
		subscriberSent int
	}
	var got []seen
	stop := r.Tap(func(pkt *rtp.Packet, key bool) {
		got = append(got, seen{pkt.SequenceNumber, key, ws[0].packets})
	})
	var other int
	stopOther := r.Tap(func(*rtp.Packet, bool) { other++ })

	send(1, true)
	send(2, false)
	stop()
	stop() // harmless twice
	send(3, false)
	stopOther()
	send(4, false)

	want := []seen{{1, true, 1}, {2, false, 2}}
	if len(got) != len(want) {
		t.Fatalf("tap saw %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d: %+v, want %+v (the subscriber is served first)", i, got[i], want[i])
		}
	}
	if other != 3 {
		t.Errorf("the second tap saw %d packets, want 3", other)
	}
	if r.taps.Load() != nil {
		t.Error("with no taps left the list must be nil again")
	}
	if ws[0].packets != 4 {
		t.Errorf("subscriber got %d packets, want 4", ws[0].packets)
	}
}
