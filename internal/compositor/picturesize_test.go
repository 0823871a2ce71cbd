package compositor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/parleyhq/parley/internal/sfu"
)

// The sizes read from keyframes made by real encoders, packetized as a
// publisher would, match the encoded sizes, odd ones and cropped ones
// included.
func TestKeyframeSize(t *testing.T) {
	ffmpeg, _ := tools(t)
	dir := t.TempDir()
	tests := []struct {
		codec sfu.Codec
		w, h  int
		args  []string
	}{
		{sfu.CodecVP8, 320, 240, nil},
		{sfu.CodecVP8, 321, 241, nil},
		{sfu.CodecVP9, 640, 360, nil},
		{sfu.CodecVP9, 321, 241, nil},
		{sfu.CodecH264, 640, 360, []string{"-profile:v", "baseline"}},
		{sfu.CodecH264, 1280, 720, []string{"-profile:v", "high"}},
		{sfu.CodecH264, 642, 362, []string{"-profile:v", "high", "-x264-params", "cqm=jvt"}},
		{sfu.CodecH264, 640, 480, []string{"-profile:v", "main", "-x264-params", "interlaced=1"}},
		{sfu.CodecH264, 320, 180, []string{"-profile:v", "high444", "-pix_fmt", "yuv444p"}},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s %dx%d %v", tt.codec, tt.w, tt.h, tt.args)
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "f")
			args := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
				"-i", fmt.Sprintf("testsrc=s=%dx%d:r=25", tt.w, tt.h), "-frames:v", "1"}
			var pay rtp.Payloader
			switch tt.codec {
			case sfu.CodecVP8:
				args = append(args, "-c:v", "libvpx", "-f", "ivf")
				pay = &codecs.VP8Payloader{EnablePictureID: true}
			case sfu.CodecVP9:
				args = append(args, "-c:v", "libvpx-vp9", "-f", "ivf")
				pay = &codecs.VP9Payloader{}
			case sfu.CodecH264:
				args = append(args, "-c:v", "libx264", "-pix_fmt", "yuv420p")
				args = append(append(args, tt.args...), "-f", "h264")
				pay = &codecs.H264Payloader{}
			}
			if out, err := exec.Command(ffmpeg, append(args, path)...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			var frame []byte
			if tt.codec == sfu.CodecH264 {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				frame = b
			} else {
				frame = ivfTrack(t, path, 25).frames[0]
			}
			s := sizeSniffer{codec: tt.codec}
			found := false
			for i, p := range pay.Payload(1200, frame) {
				w, h, ok := s.keyframeSize(p)
				if !ok {
					continue
				}
				if !sfu.IsKeyframe(tt.codec, p) {
					t.Errorf("packet %d gives a size but is no keyframe start", i)
				}
				if w != tt.w || h != tt.h {
					t.Fatalf("packet %d: %dx%d", i, w, h)
				}
				found = true
			}
			if !found {
				t.Fatal("no size found")
			}
		})
	}
}

// Inter frames and other packets give no size.
func TestKeyframeSizeNone(t *testing.T) {
	s := sizeSniffer{codec: sfu.CodecVP8}
	if _, _, ok := s.keyframeSize([]byte{0x90, 0x80, 0x01, 0x01, 0, 0, 0x9d, 0x01, 0x2a, 1, 1, 1, 1}); ok {
		t.Error("VP8 inter frame gave a size")
	}
	s.codec = sfu.CodecOpus
	if _, _, ok := s.keyframeSize([]byte{1, 2, 3}); ok {
		t.Error("Opus gave a size")
	}
	s.codec = sfu.CodecH264
	if _, _, ok := s.keyframeSize([]byte{0x65, 0x88, 0x80}); ok {
		t.Error("IDR slice without SPS gave a size")
	}
}

func FuzzKeyframeSize(f *testing.F) {
	f.Add(byte(sfu.CodecVP8), []byte{0x90, 0x80, 0x01, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
	f.Add(byte(sfu.CodecH264), []byte{0x18, 0x00, 0x0b, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x84, 0x00})
	f.Add(byte(sfu.CodecVP9), []byte{0x8a, 0x80, 0x01, 0x18, 0x01, 0x40, 0x00, 0xf0, 0x01, 0x04, 0x01})
	f.Fuzz(func(t *testing.T, codec byte, payload []byte) {
		s := sizeSniffer{codec: sfu.Codec(codec % 8)}
		if w, h, ok := s.keyframeSize(payload); ok && (w <= 0 || h <= 0 || w > 1<<16 || h > 1<<16) {
			t.Fatalf("size %dx%d", w, h)
		}
	})
}
