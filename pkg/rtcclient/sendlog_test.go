package rtcclient

import (
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/test/live"
)

func TestSendLog(t *testing.T) {
	l := NewSendLog()
	if _, ok := l.SentAt([]byte("never sent")); ok {
		t.Error("found a payload never sent")
	}
	if _, ok := l.SentAt(nil); ok {
		t.Error("found an empty payload")
	}
	l.add([]byte("a"), 100)
	l.add([]byte("b"), 200)
	if at, ok := l.SentAt([]byte("a")); !ok || at.UnixNano() != 100 {
		t.Errorf("a: %v %v", at.UnixNano(), ok)
	}
	// Sent again (a clip looping): the latest send counts.
	l.add([]byte("a"), 300)
	if at, _ := l.SentAt([]byte("a")); at.UnixNano() != 300 {
		t.Errorf("a sent again: %v", at.UnixNano())
	}
	// After logSize more packets, the first ones are forgotten; the map
	// does not grow past the ring.
	for i := range logSize {
		l.add(binary.BigEndian.AppendUint32(nil, uint32(i)), int64(1000+i))
	}
	if _, ok := l.SentAt([]byte("b")); ok {
		t.Error("b still known after the ring went round")
	}
	if _, ok := l.SentAt([]byte("a")); ok {
		t.Error("a still known after the ring went round")
	}
	if at, ok := l.SentAt(binary.BigEndian.AppendUint32(nil, logSize-1)); !ok || at.UnixNano() != 1000+logSize-1 {
		t.Errorf("the latest packet: %v %v", at.UnixNano(), ok)
	}
	if len(l.at) > logSize {
		t.Errorf("the map holds %d entries for a ring of %d", len(l.at), logSize)
	}
}

// An entry evicted by the ring must not take a newer send of the same
// payload with it.
func TestSendLogEvictionKeepsNewerSend(t *testing.T) {
	l := NewSendLog()
	l.add([]byte("x"), 1)
	for i := range logSize - 1 {
		l.add(binary.BigEndian.AppendUint32(nil, uint32(i)), int64(10+i))
	}
	l.add([]byte("x"), 99999) // overwrites the ring slot of the first "x"
	if at, ok := l.SentAt([]byte("x")); !ok || at.UnixNano() != 99999 {
		t.Errorf("x: %v %v", at.UnixNano(), ok)
	}
}

func TestJitter(t *testing.T) {
	pkt := func(seq uint16, ts uint32) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts}, Payload: []byte{0xf8, 1, 2}}
	}
	start := time.Unix(1000, 0)

	// Audio arriving exactly every 20 ms with timestamps 960 apart: no
	// jitter, across a timestamp wrap too.
	var even TrackStats
	even.clockRate = 48000
	ts := uint32(0xffffffff - 5*960)
	for i := range 50 {
		even.record(pkt(uint16(i), ts), 15, sfu.CodecFromMime(""), false, start.Add(time.Duration(i)*20*time.Millisecond), nil, nil)
		ts += 960
	}
	if j := even.Jitter(); j > time.Microsecond {
		t.Errorf("even arrivals: jitter %v", j)
	}

	// Arrivals alternately 5 ms early and late: |D| is 10 ms each time,
	// and the estimate converges on it.
	var uneven TrackStats
	uneven.clockRate = 48000
	for i := range 500 {
		off := 5 * time.Millisecond
		if i%2 == 0 {
			off = -off
		}
		uneven.record(pkt(uint16(i), uint32(i*960)), 15, sfu.CodecFromMime(""), false, start.Add(time.Duration(i)*20*time.Millisecond+off), nil, nil)
	}
	if j := uneven.Jitter(); j < 9900*time.Microsecond || j > 10100*time.Microsecond {
		t.Errorf("alternating ±5 ms: jitter %v, want 10 ms", j)
	}
	if uneven.Expected() != 500 || uneven.Packets() != 500 || uneven.RTPBytes() != 500*15 {
		t.Errorf("expected %d, packets %d, RTP bytes %d", uneven.Expected(), uneven.Packets(), uneven.RTPBytes())
	}
}

// A packet whose payload is in the publisher's send log gets its delay
// measured, handed to OnDelay instead of kept.
func TestRecordDelayFromSendLog(t *testing.T) {
	l := NewSendLog()
	sent := time.Unix(2000, 0)
	payload := []byte{0x90, 0x80, 0x12, 0x34, 5, 6, 7}
	l.add(payload, sent.UnixNano())
	var got []time.Duration
	var st TrackStats
	st.clockRate = 90000
	p := &rtp.Packet{Header: rtp.Header{SequenceNumber: 1, Timestamp: 1}, Payload: payload}
	st.record(p, 19, sfu.CodecFromMime(webrtc.MimeTypeVP8), true, sent.Add(3*time.Millisecond), l,
		func(video bool, d time.Duration) { got = append(got, d) })
	if len(got) != 1 || got[0] != 3*time.Millisecond {
		t.Errorf("delays %v", got)
	}
	if len(st.Delays()) != 0 {
		t.Error("kept delays though OnDelay took them")
	}
	// Without OnDelay the track keeps them.
	var kept TrackStats
	kept.record(p, 19, sfu.CodecFromMime(webrtc.MimeTypeVP8), true, sent.Add(4*time.Millisecond), l, nil)
	if d := kept.Delays(); len(d) != 1 || d[0] != 4*time.Millisecond {
		t.Errorf("kept %v", d)
	}
}

// TestFileKeyframes reads clips that ffmpeg makes with a keyframe every
// 10 frames and checks that the players see exactly those as keyframes,
// the frames a keyframe request skips to.
func TestFileKeyframes(t *testing.T) {
	ffmpeg := live.Require(t, "ffmpeg")
	for _, c := range []struct {
		name, file string
		args       []string
	}{
		{"VP8", "clip.ivf", []string{"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-auto-alt-ref", "0"}},
		{"VP9", "clip.ivf", []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-lag-in-frames", "0"}},
		{"AV1", "clip.ivf", []string{"-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8", "-lag-in-frames", "0"}},
		{"H264", "clip.h264", []string{"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-preset", "veryfast",
			"-x264-params", "scenecut=0", "-bsf:v", "h264_mp4toannexb", "-f", "h264"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.file)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
				"-i", "testsrc2=size=160x120:rate=10", "-frames:v", "25", "-pix_fmt", "yuv420p", "-g", "10", "-keyint_min", "10"}, c.args...)
			if out, err := exec.CommandContext(ctx, ffmpeg, append(args, path)...).CombinedOutput(); err != nil {
				t.Skipf("ffmpeg cannot make a %s clip here: %v\n%s", c.name, err, out)
			}
			v, err := openVideoFile(path, 10)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			var keys []int
			for i := range 30 { // past the end: the file loops
				_, _, key, err := v.next()
				if err != nil {
					t.Fatal(err)
				}
				if key {
					keys = append(keys, i)
				}
			}
			if want := "[0 10 20 25]"; fmt.Sprint(keys) != want {
				t.Errorf("keyframes at %v, want %s", keys, want)
			}
		})
	}
}
