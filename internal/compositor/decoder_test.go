package compositor

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/sfu"
)

func TestDecoderSDP(t *testing.T) {
	sdp := decoderSDP(webrtc.RTPCodecTypeVideo, sfu.CodecH264, "packetization-mode=1;profile-level-id=42e01f", 40000)
	for _, want := range []string{
		"c=IN IP4 127.0.0.1\\r\\n", "m=video 40000 RTP/AVP 96\\r\\n", "a=rtpmap:96 H264/90000\\r\\n",
		"a=fmtp:96 packetization-mode=1;profile-level-id=42e01f\\r\\n",
	} {
		want = strings.ReplaceAll(want, "\\r\\n", "\r\n")
		if !strings.Contains(sdp, want) {
			t.Errorf("SDP lacks %q:\n%s", want, sdp)
		}
	}
	sdp = decoderSDP(webrtc.RTPCodecTypeAudio, sfu.CodecOpus, "minptime=10\r\nm=video 1 RTP/AVP 96", 40002)
	if !strings.Contains(sdp, "m=audio 40002 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n") {
		t.Errorf("audio SDP:\n%s", sdp)
	}
	if strings.Contains(sdp, "fmtp") || strings.Count(sdp, "m=") != 1 {
		t.Errorf("format parameters with a line break got in:\n%s", sdp)
	}
}

func TestRtpmapName(t *testing.T) {
	for _, tt := range []struct {
		kind webrtc.RTPCodecType
		c    sfu.Codec
		want string
	}{
		{webrtc.RTPCodecTypeVideo, sfu.CodecVP8, "VP8/90000"},
		{webrtc.RTPCodecTypeVideo, sfu.CodecVP9, "VP9/90000"},
		{webrtc.RTPCodecTypeVideo, sfu.CodecH264, "H264/90000"},
		{webrtc.RTPCodecTypeVideo, sfu.CodecAV1, "AV1/90000"},
		{webrtc.RTPCodecTypeAudio, sfu.CodecOpus, "opus/48000/2"},
		{webrtc.RTPCodecTypeVideo, sfu.CodecOpus, ""},
		{webrtc.RTPCodecTypeAudio, sfu.CodecVP8, ""},
		{webrtc.RTPCodecTypeVideo, sfu.CodecUnknown, ""},
	} {
		if got := rtpmapName(tt.kind, tt.c); got != tt.want {
			t.Errorf("%v %v: %q, want %q", tt.kind, tt.c, got, tt.want)
		}
	}
}

// An AV1 stream is decoded only by an ffmpeg whose RTP demuxer knows AV1;
// with another (Debian 12's 5.1) its box stays black, untapped, with a
// log line, and the rest goes on.
func TestAV1(t *testing.T) {
	c, _ := startTest(t, false, true)
	if ffmpegReadsAV1RTP(c.ffmpeg, c.log, nil) {
		t.Skip("this ffmpeg reads AV1 over RTP")
	}
	av1 := &testSource{video: &testTrack{params: videoParams(webrtc.MimeTypeAV1, 45, "")}, quit: make(chan struct{})}
	red := redSource(t, false)
	c.Set([]Input{
		{ID: "av1", Source: av1, Video: true, Box: leftHalf},
		{ID: "red", Source: red, Video: true, Box: rightHalf},
	})
	waitPictures(t, c, "red")
	waitFor(t, startWait, "AV1 untapped", func() bool { return !av1.video.tapped() })
	closeTest(t, c)
}

// Turning an input's video off and on stops and restarts its decoder.
func TestSetKinds(t *testing.T) {
	red := redSource(t, true)
	c, _ := startTest(t, true, true)
	in := Input{ID: "red", Source: red, Audio: true, Video: true, Box: leftHalf}
	c.Set([]Input{in})
	waitPictures(t, c, "red")
	in.Video = false
	c.Set([]Input{in})
	if red.video.tapped() || !red.audio.tapped() {
		t.Fatal("video still tapped, or audio not")
	}
	if s := c.Stats().Sources["red"]; s.Pictures != 0 {
		t.Errorf("%d pictures counted without video", s.Pictures)
	}
	in.Video = true
	c.Set([]Input{in})
	waitPictures(t, c, "red")
	closeTest(t, c)
}

// Frame slots the encoder cannot take are owed (the writer repeats the
// last canvas) up to a second's worth, then dropped.
func TestFrameSlots(t *testing.T) {
	c := &Compositor{cfg: Config{FPS: 10}, canvas: newCanvas(16, 16)}
	c.enc = &encoder{vq: make(chan *picture, 1), vfree: make(chan *picture, 1)}
	c.enc.vfree <- newPicture(16, 16)
	now := time.Now()
	if d := c.frameSlots(3, &scene{}, now); d != 0 {
		t.Fatalf("dropped %d", d)
	}
	if c.frames.Load() != 1 || c.late.Load() != 2 || c.enc.vdebt.Load() != 2 {
		t.Fatalf("frames %d late %d debt %d", c.frames.Load(), c.late.Load(), c.enc.vdebt.Load())
	}
	if d := c.frameSlots(20, &scene{}, now); d != 12 {
		t.Fatalf("dropped %d, want 12", d)
	}
	if c.enc.vdebt.Load() != 10 || c.dropped.Load() != 12 {
		t.Fatalf("debt %d dropped %d", c.enc.vdebt.Load(), c.dropped.Load())
	}
}
