package rtc

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/signaling"
	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
	"github.com/parleyhq/parley/test/live"
)

// clipSeconds is the length of the encoded clips; the publisher loops them.
const clipSeconds = "3"

// ffmpegVideo is the source every video clip is encoded from: 320x240 at
// 30 frames per second, a keyframe every 30 frames (1 s).
var ffmpegVideo = []string{
	"-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", clipSeconds,
	"-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30",
}

// encoderOptions are the options of each video encoder the tests use:
// fast settings, and for H.264 what WebRTC decoders expect (constrained
// baseline, no B-frames, Annex-B).
var encoderOptions = map[string][]string{
	"libvpx":     {"-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8"},
	"libvpx-vp9": {"-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8"},
	"libx264":    {"-profile:v", "baseline", "-bf", "0", "-preset", "veryfast", "-bsf:v", "h264_mp4toannexb", "-f", "h264"},
	"libaom-av1": {"-b:v", "300k", "-usage", "realtime", "-cpu-used", "8"},
	"libsvtav1":  {"-b:v", "300k", "-preset", "12"},
}

// av1Encoders are the AV1 encoders the tests can use, best first: libaom's
// realtime mode encodes as WebRTC senders do.
var av1Encoders = []string{"libaom-av1", "libsvtav1"}

var (
	encodersOnce sync.Once
	encoders     map[string]bool
	encodersErr  error
)

// pickEncoder returns the first of names that ffmpeg has, skipping t
// (failing it under CI) when it has none.
func pickEncoder(t *testing.T, ffmpeg string, names ...string) string {
	t.Helper()
	encodersOnce.Do(func() {
		out, err := exec.Command(ffmpeg, "-hide_banner", "-encoders").Output()
		encoders, encodersErr = map[string]bool{}, err
		for line := range strings.Lines(string(out)) {
			if f := strings.Fields(line); len(f) >= 2 {
				encoders[f[1]] = true
			}
		}
	})
	if encodersErr != nil {
		t.Fatalf("ffmpeg -encoders: %v", encodersErr)
	}
	for _, n := range names {
		if encoders[n] {
			return n
		}
	}
	live.Missing(t, "ffmpeg has none of the encoders "+strings.Join(names, ", "))
	return ""
}

// encode runs ffmpeg with args, writing out in dir, and returns out's path.
func encode(t *testing.T, ffmpeg, dir, out string, args ...string) string {
	t.Helper()
	path := filepath.Join(dir, out)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)
	start := time.Now()
	if b, err := exec.CommandContext(ctx, ffmpeg, append(all, path)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	t.Logf("encoded %s in %v", out, time.Since(start).Round(time.Millisecond))
	return path
}

// TestCodecs publishes real encoder output in each codec the SFU claims
// and checks that a subscriber gets it whole: the right codec, video that
// starts on a keyframe, a second's worth of frames, and Opus audio. The
// cases named OfferedAfterVP8 send a codec other than the first one their
// offer lists, which any negotiated codec may be: the server must then
// either refuse it or forward it as what it is.
func TestCodecs(t *testing.T) {
	ffmpeg := live.Require(t, "ffmpeg")
	e := newEnv(t)
	audio := encode(t, ffmpeg, t.TempDir(), "sine.ogg",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration="+clipSeconds,
		"-c:a", pickEncoder(t, ffmpeg, "libopus"), "-b:a", "32k", "-page_duration", "20000")

	for _, tc := range []struct {
		name, mime, file string
		encoders         []string // any will do, best first
		// defaultOrder offers VP8 first though the clip is another codec,
		// as Pion senders do unless told otherwise.
		defaultOrder bool
	}{
		{"VP8", "video/VP8", "clip.ivf", []string{"libvpx"}, false},
		{"VP9", "video/VP9", "clip.ivf", []string{"libvpx-vp9"}, false},
		{"H264", "video/H264", "clip.h264", []string{"libx264"}, false},
		{"AV1", "video/AV1", "clip.ivf", av1Encoders, false},
		{"VP9OfferedAfterVP8", "video/VP9", "clip.ivf", []string{"libvpx-vp9"}, true},
		{"H264OfferedAfterVP8", "video/H264", "clip.h264", []string{"libx264"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := pickEncoder(t, ffmpeg, tc.encoders...)
			args := append(append(slices.Clone(ffmpegVideo), "-c:v", enc), encoderOptions[enc]...)
			video := encode(t, ffmpeg, t.TempDir(), tc.file, args...)

			sid := e.session(t, opentok.Routed)
			ctx := ctx10(t)
			pub := e.connect(t, sid, opentok.RolePublisher, "pub")
			sub := e.connect(t, sid, opentok.RoleSubscriber, "sub")
			p, err := pub.Publish(ctx, rtcclient.PublishOptions{
				Name: tc.name, Audio: true, Video: true, Width: 320, Height: 240,
				VideoFile: video, AudioFile: audio, DefaultCodecOrder: tc.defaultOrder,
			})
			if tc.defaultOrder && (errors.Is(err, webrtc.ErrUnsupportedCodec) || code(err) == signaling.CodeUnableToPub) {
				// A server may answer with only the codec it will forward,
				// the first offered: refusing the clip's codec outright is
				// fine. Forwarding it under another codec's name is not.
				t.Logf("%s: publish refused: %v", tc.name, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			waitEvent(t, sub, 5*time.Second, func(ev rtcclient.Event) bool {
				return ev.Type == "streamCreated" && ev.Stream.StreamID == p.StreamID
			})
			start := time.Now()
			s, err := sub.Subscribe(ctx, p.StreamID, rtcclient.SubscribeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// The clip has a keyframe a second; the subscriber waits for one,
			// then a second of frames must follow.
			enough := func() bool {
				return s.Video.Frames() >= 30 && s.Video.Keyframes() >= 1 && s.Audio.Packets() >= 50
			}
			for !enough() && time.Since(start) < 6*time.Second {
				time.Sleep(20 * time.Millisecond)
			}
			first, key := s.Video.FirstPacket(), s.Video.FirstKeyframe()
			t.Logf("%s with %s: first video packet %v, first keyframe %v after subscribing; %v later: %d frames, %d keyframe packets, %d/%d video packets, %d audio packets; the publisher got %d keyframe requests",
				tc.name, enc, since(first, start), since(key, start), time.Since(start).Round(time.Millisecond),
				s.Video.Frames(), s.Video.Keyframes(), s.Video.Packets(), s.Video.Expected(), s.Audio.Packets(), p.KeyframeRequests.Load())
			if !strings.EqualFold(s.Video.Codec(), tc.mime) {
				t.Errorf("video codec %q, want %q", s.Video.Codec(), tc.mime)
			}
			if !strings.EqualFold(s.Audio.Codec(), "audio/opus") {
				t.Errorf("audio codec %q, want audio/opus", s.Audio.Codec())
			}
			if first.IsZero() || !first.Equal(key) {
				t.Errorf("first video packet at %v, first keyframe at %v: video must start on a keyframe", first, key)
			}
			if !enough() {
				t.Errorf("within %v: %d frames (want ≥ 30), %d keyframe packets (want ≥ 1), %d audio packets (want ≥ 50)",
					time.Since(start).Round(time.Millisecond), s.Video.Frames(), s.Video.Keyframes(), s.Audio.Packets())
			}
		})
	}
}

// since is how long after start t came, or -1 if it never did.
func since(t, start time.Time) time.Duration {
	if t.IsZero() {
		return -1
	}
	return t.Sub(start).Round(time.Millisecond)
}

// TestTwoStreamsPerConnection: one connection publishes a camera and a
// screen at once; another sees both, receives both, and when the screen
// goes the camera stays.
func TestTwoStreamsPerConnection(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx := ctx10(t)
	a := e.connect(t, sid, opentok.RolePublisher, "presenter")
	b := e.connect(t, sid, opentok.RoleSubscriber, "viewer")

	cam, err := a.Publish(ctx, rtcclient.PublishOptions{Name: "cam", Audio: true, Video: true, VideoType: "camera"})
	if err != nil {
		t.Fatal(err)
	}
	screen, err := a.Publish(ctx, rtcclient.PublishOptions{Name: "screen", Video: true, VideoType: "screen", Width: 1280, Height: 720, FPS: 15})
	if err != nil {
		t.Fatal(err)
	}
	if cam.StreamID == screen.StreamID {
		t.Fatalf("both streams got id %s", cam.StreamID)
	}
	want := map[string]string{cam.StreamID: "camera", screen.StreamID: "screen"}
	for range 2 {
		ev := waitEvent(t, b, 5*time.Second, isType("streamCreated"))
		vt, ok := want[ev.Stream.StreamID]
		if !ok {
			t.Fatalf("streamCreated for unknown stream %+v", ev.Stream)
		}
		if ev.Stream.VideoType != vt || ev.Stream.Connection.ConnectionID != a.Connection.ConnectionID || !ev.Stream.HasVideo {
			t.Fatalf("stream %s: %+v, want videoType %s from %s", ev.Stream.StreamID, ev.Stream, vt, a.Connection.ConnectionID)
		}
		delete(want, ev.Stream.StreamID)
	}

	start := time.Now()
	sc, err := b.Subscribe(ctx, cam.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := b.Subscribe(ctx, screen.StreamID, rtcclient.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	flowing := func() bool {
		return sc.Video.Frames() >= 10 && sc.Video.Keyframes() >= 1 && sc.Audio.Packets() >= 10 &&
			ss.Video.Frames() >= 5 && ss.Video.Keyframes() >= 1
	}
	for !flowing() && time.Since(start) < 5*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("after %v: camera %d frames, %d audio packets; screen %d frames, %d audio packets",
		time.Since(start).Round(time.Millisecond), sc.Video.Frames(), sc.Audio.Packets(), ss.Video.Frames(), ss.Audio.Packets())
	if !flowing() {
		t.Fatal("both streams must flow")
	}
	if ss.Audio.Packets() != 0 {
		t.Errorf("the screen stream has no audio, yet %d audio packets arrived", ss.Audio.Packets())
	}

	if err := screen.Unpublish(ctx); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, b, 5*time.Second, isType("streamDestroyed"))
	if ev.Stream.StreamID != screen.StreamID || ev.Reason != "clientDisconnected" {
		t.Fatalf("streamDestroyed %+v (reason %q), want the screen %s, clientDisconnected", ev.Stream, ev.Reason, screen.StreamID)
	}
	// Packets already on their way may still land; then the screen must
	// fall silent while the camera goes on.
	time.Sleep(200 * time.Millisecond)
	camFrames, screenPackets := sc.Video.Frames(), ss.Video.Packets()
	// Watch a second of events: nothing else may go.
	timeout := time.After(time.Second)
	for watching := true; watching; {
		select {
		case ev, ok := <-b.Events():
			if !ok {
				t.Fatal("viewer's connection closed")
			}
			if ev.Type == "streamDestroyed" || ev.Type == "connectionDestroyed" {
				t.Fatalf("after the screen went: %s %+v %+v", ev.Type, ev.Stream, ev.Connection)
			}
		case <-timeout:
			watching = false
		}
	}
	streams := b.Streams()
	if len(streams) != 1 || streams[0].StreamID != cam.StreamID {
		t.Errorf("viewer's streams after the screen went: %+v", streams)
	}
	if d := sc.Video.Frames() - camFrames; d < 15 {
		t.Errorf("camera: %d frames in the second after the screen went, want ≥ 15", d)
	}
	if d := ss.Video.Packets() - screenPackets; d > 0 {
		t.Errorf("screen: %d packets after it was unpublished", d)
	}
	t.Logf("camera kept flowing: %d frames in the second after the screen went", sc.Video.Frames()-camFrames)
}
