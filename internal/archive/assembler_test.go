package archive

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// vp8Packets splits frame number n (a keyframe when key) into parts
// packets with sequence numbers from seq.
func vp8Packets(n int, seq uint16, parts int, key bool) []*packet {
	var out []*packet
	for i := range parts {
		desc := byte(0x00)
		if i == 0 {
			desc = 0x10 // S: the frame starts here
		}
		body := []byte{byte(n), byte(i)}
		if i == 0 {
			body = []byte{0x01, byte(n)} // an inter frame
			if key {
				body[0] = 0x00
			}
		}
		out = append(out, &packet{video: true, seq: seq + uint16(i), ts: uint32(n) * 3000, marker: i == parts-1,
			keyframe: key && i == 0, payload: append([]byte{desc}, body...)})
	}
	return out
}

// describeFrames renders frames as "n" (its number), "n*" for a
// keyframe and "!n" for a frame after a loss.
func describeFrames(fs []frame) string {
	var s []string
	for _, f := range fs {
		d := fmt.Sprint(f.ts / 3000)
		if f.keyframe {
			d += "*"
		}
		if f.afterLoss {
			d = "!" + d
		}
		s = append(s, d)
	}
	return strings.Join(s, " ")
}

func TestAssembler(t *testing.T) {
	// Five frames of three packets each, frames 0 and 3 keyframes;
	// sequence numbers from 65530, so that they wrap.
	var all [][]*packet
	for n := range 5 {
		all = append(all, vp8Packets(n, 65530+uint16(n*3), 3, n == 0 || n == 3))
	}
	pkt := func(frame, part int) *packet { p := *all[frame][part]; return &p }
	type push struct {
		frame, part int
		at          time.Duration
	}
	inOrder := func(frames ...int) []push {
		var out []push
		for _, f := range frames {
			for p := range 3 {
				out = append(out, push{f, p, 0})
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		pushes []push
		tickAt time.Duration // a tick after the pushes, when not 0
		want   string
	}{
		{"in order, across the wrap", inOrder(0, 1, 2, 3, 4), 0, "0* 1 2 3* 4"},
		{"reordered within a frame", []push{{0, 2, 0}, {0, 0, 0}, {0, 1, 0}, {1, 1, 0}, {1, 0, 0}, {1, 2, 0}}, 0, "0* 1"},
		{"a retransmission fills a hole", append(append(inOrder(0), push{1, 0, 0}, push{1, 2, 0}), append(inOrder(2), push{1, 1, 0})...), 0, "0* 1 2"},
		{"duplicates and late packets are ignored", append(inOrder(0, 1), push{0, 1, 0}, push{1, 2, 0}), 0, "0* 1"},
		{"a lost packet is waited for, then its frame given up",
			append(append(inOrder(0), push{1, 0, 0}, push{1, 2, 0}), inOrder(2, 3)...), 600 * time.Millisecond, "0* !2 3*"},
		{"not given up before the wait", append(append(inOrder(0), push{1, 0, 0}, push{1, 2, 0}), inOrder(2)...), 100 * time.Millisecond, "0*"},
		{"a lost first packet", append(append(inOrder(0), push{1, 1, 0}, push{1, 2, 0}), inOrder(2)...), time.Second, "0* !2"},
		{"starting in the middle of a frame", append([]push{{0, 1, 0}, {0, 2, 0}}, inOrder(1, 2)...), 0, ""},
		{"starting in the middle of a frame, then giving it up", append([]push{{0, 1, 0}, {0, 2, 0}}, inOrder(1, 2)...), time.Second, "!1 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAssembler(func() rtp.Depacketizer { return &codecs.VP8Packet{} })
			released := 0
			a.release = func(*packet) { released++ }
			var got []frame
			pushed := 0
			for _, p := range tc.pushes {
				q := pkt(p.frame, p.part)
				q.at = p.at
				got = a.push(q, got)
				pushed++
			}
			if tc.tickAt > 0 {
				got = a.tick(tc.tickAt, got)
			}
			if d := describeFrames(got); d != tc.want {
				t.Errorf("frames %q, want %q", d, tc.want)
			}
			for _, f := range got {
				n := f.ts / 3000
				want := []byte{0x01, byte(n), byte(n), 1, byte(n), 2}
				if f.keyframe {
					want[0] = 0x00
				}
				if !slices.Equal(f.data, want) {
					t.Errorf("frame %d: data %x, want %x", n, f.data, want)
				}
			}
			if released > pushed {
				t.Errorf("released %d packets of %d", released, pushed)
			}
		})
	}
}

// TestAssemblerPadding: padding packets (empty payloads, which a sender
// without RTX uses to probe the bandwidth) take sequence numbers between
// frames, and are no loss.
func TestAssemblerPadding(t *testing.T) {
	a := newAssembler(func() rtp.Depacketizer { return &codecs.VP8Packet{} })
	var got []frame
	seq := uint16(10)
	for n := range 4 {
		for _, p := range vp8Packets(n, seq, 2, n == 0) {
			got = a.push(p, got)
		}
		seq += 2
		for range n { // 0 to 3 padding packets after each frame
			got = a.push(&packet{video: true, seq: seq, ts: uint32(n) * 3000}, got)
			seq++
		}
	}
	if d := describeFrames(got); d != "0* 1 2 3" {
		t.Errorf("frames %q, want %q", d, "0* 1 2 3")
	}
}

func TestAssemblerFarAhead(t *testing.T) {
	a := newAssembler(func() rtp.Depacketizer { return &codecs.VP8Packet{} })
	got := a.push(vp8Packets(0, 100, 1, true)[0], nil)
	// A packet a whole window ahead: what lies before its window is
	// given up at once, the rest once waited for, and the frame it
	// starts comes out after a loss.
	got = a.push(vp8Packets(9, 100+assemblerWindow+10, 1, false)[0], got)
	got = a.push(vp8Packets(10, 100+assemblerWindow+11, 1, false)[0], got)
	got = a.tick(time.Second, got)
	if d := describeFrames(got); d != "0* !9 10" {
		t.Errorf("frames %q, want %q", d, "0* !9 10")
	}
}

func TestTrackClock(t *testing.T) {
	ms := func(d int) time.Duration { return time.Duration(d) * time.Millisecond }
	base := uint32(4294960000) // 3 s of 90 kHz before the wrap
	c := newTrackClock(90000)
	for i, tc := range []struct {
		ts, ssrc uint32
		at       time.Duration
		want     int64
		ok       bool
	}{
		{base, 1, ms(100), 100, true},             // anchored on arrival
		{base + 9000, 1, ms(250), 200, true},      // 100 ms later by the RTP clock, however it arrived
		{base + 18000, 1, ms(290), 300, true},     // across the wrap
		{base + 18000, 1, ms(300), 300, false},    // the same frame again
		{base + 4500, 1, ms(310), 150, false},     // older than the last
		{base + 900000000, 1, ms(400), 400, true}, // a jump of hours: re-anchored on arrival
		{5000, 2, ms(350), 401, true},             // a new source: never before the last frame
	} {
		got, ok := c.place(tc.ts, tc.ssrc, tc.at)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%d: place(%d) = %d, %v; want %d, %v", i, tc.ts, got, ok, tc.want, tc.ok)
		}
	}
}
