package rtc

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
	"github.com/parleyhq/parley/test/live"
)

// TestSimulcast publishes three VP8 layers of real encoder output (320x180,
// 640x360, 1280x720) and checks what subscribers get: the best layer by
// default, the smallest when they ask for it, and a switch on request
// that keeps the stream continuous (sequence numbers without a gap).
func TestSimulcast(t *testing.T) {
	ffmpeg := live.Require(t, "ffmpeg")
	ffprobe := live.Require(t, "ffprobe")
	dir := t.TempDir()
	sizes := [][2]int{{320, 180}, {640, 360}, {1280, 720}}
	var files []string
	for _, s := range sizes {
		files = append(files, encode(t, ffmpeg, dir, fmt.Sprintf("layer-%d.ivf", s[1]),
			"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30", s[0], s[1]),
			"-t", "4", "-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60",
			"-c:v", pickEncoder(t, ffmpeg, "libvpx"), "-b:v", fmt.Sprintf("%dk", s[0]/2),
			"-deadline", "realtime", "-cpu-used", "8"))
	}
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	pub := e.connect(t, sid, opentok.RolePublisher, "")
	p, err := pub.Publish(ctx10(t), rtcclient.PublishOptions{
		Video: true, Width: 1280, Height: 720, SimulcastFiles: files, KeyframeOnRequest: true,
	})
	if err != nil {
		t.Fatal(err)
	}

	// A recording takes the best layer whatever the subscribers ask for.
	ar, err := e.ot.StartArchive(ctx10(t), sid, opentok.ArchiveOptions{OutputMode: opentok.Individual})
	if err != nil {
		t.Fatal(err)
	}

	best := e.connect(t, sid, opentok.RoleSubscriber, "")
	small := e.connect(t, sid, opentok.RoleSubscriber, "")
	switching := e.connect(t, sid, opentok.RoleSubscriber, "")
	sBest, err := best.Subscribe(ctx10(t), p.StreamID, rtcclient.SubscribeOptions{NoAudio: true})
	if err != nil {
		t.Fatal(err)
	}
	sSmall, err := small.Subscribe(ctx10(t), p.StreamID, rtcclient.SubscribeOptions{NoAudio: true, PreferredWidth: 320, PreferredHeight: 180})
	if err != nil {
		t.Fatal(err)
	}
	sSwitch, err := switching.Subscribe(ctx10(t), p.StreamID, rtcclient.SubscribeOptions{NoAudio: true})
	if err != nil {
		t.Fatal(err)
	}

	// size waits until a subscription's last keyframe has the given size.
	size := func(name string, s *rtcclient.Subscription, w, h int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			gw, gh := s.Video.KeyframeSize()
			if gw == w && gh == h {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: keyframes of %dx%d, want %dx%d (%d packets, %d keyframes; the publisher sent %d packets, %d frames)", name, gw, gh, w, h, s.Video.Packets(), s.Video.Keyframes(), p.SentPackets.Load(), p.VideoPackets.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	size("no preference", sBest, 1280, 720)
	size("preferring 320x180", sSmall, 320, 180)
	size("before switching", sSwitch, 1280, 720)
	before := sSwitch.Video.Keyframes()
	start := time.Now()
	if err := sSwitch.SetPreferredResolution(ctx10(t), 640, 360); err != nil {
		t.Fatal(err)
	}
	size("after asking for 640x360", sSwitch, 640, 360)
	t.Logf("switched to 640x360 in %v", time.Since(start).Round(time.Millisecond))
	if sSwitch.Video.Keyframes() == before {
		t.Fatal("the switch came without a new keyframe")
	}
	// The layers keep flowing after the switch, and the subscriber sees
	// one continuous stream: every sequence number it spanned arrived.
	packets := sSwitch.Video.Packets()
	time.Sleep(time.Second)
	if sSwitch.Video.Packets() <= packets+20 {
		t.Fatalf("after the switch only %d packets arrived in a second", sSwitch.Video.Packets()-packets)
	}
	for name, s := range map[string]*rtcclient.Subscription{"best": sBest, "small": sSmall, "switching": sSwitch} {
		got, spanned := s.Video.Packets(), s.Video.Expected()
		if got+2 < spanned {
			t.Errorf("%s: %d packets of %d sequence numbers spanned: the stream has gaps", name, got, spanned)
		}
	}
	// The smallest layer costs the least: its subscriber received fewer
	// bytes per packet-second than the best layer's.
	if sSmall.Video.Bytes() >= sBest.Video.Bytes() {
		t.Errorf("the 320x180 subscriber received %d bytes, the 1280x720 one %d", sSmall.Video.Bytes(), sBest.Video.Bytes())
	}

	// A silly size is refused.
	if err := sBest.SetPreferredResolution(ctx10(t), -1, 5); code(err) != 400 {
		t.Fatalf("a negative size: %v, want 400", err)
	}

	if _, err := e.ot.StopArchive(ctx10(t), ar.ID); err != nil {
		t.Fatal(err)
	}
	m := fetchZip(t, waitArchive(t, e.ot, ar.ID), dir)
	if len(m.Files) != 1 {
		t.Fatalf("archive files %+v", m.Files)
	}
	file := filepath.Join(dir, m.Files[0].Filename)
	if size := probeSize(t, ffprobe, file); size != "1280x720" {
		t.Errorf("the recording is %s, want the best layer's 1280x720", size)
	}
	if pr := probeFile(t, ffprobe, file); pr.videoFrames < 30 || pr.errors != "" {
		t.Errorf("the recording: %d frames decoded, errors %q", pr.videoFrames, pr.errors)
	}
}
