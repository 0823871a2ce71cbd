package sfu

import (
	"testing"
)

func TestKeyframeCodecFromMime(t *testing.T) {
	tests := []struct {
		mime string
		want Codec
	}{
		{"video/VP8", CodecVP8},
		{"video/vp8", CodecVP8},
		{"VIDEO/Vp9", CodecVP9},
		{"video/H264", CodecH264},
		{"video/h264", CodecH264},
		{"video/AV1", CodecAV1},
		{"audio/opus", CodecOpus},
		{"audio/OPUS", CodecOpus},
		{"audio/VP8", CodecUnknown},
		{"video/opus", CodecUnknown},
		{"video/H265", CodecUnknown},
		{"video/rtx", CodecUnknown},
		{"video/VP8 ", CodecUnknown},
		{"VP8", CodecUnknown},
		{"video/", CodecUnknown},
		{"", CodecUnknown},
	}
	for _, tt := range tests {
		if got := CodecFromMime(tt.mime); got != tt.want {
			t.Errorf("CodecFromMime(%q) = %v, want %v", tt.mime, got, tt.want)
		}
	}
	for _, c := range []Codec{CodecVP8, CodecVP9, CodecH264, CodecAV1} {
		if got := CodecFromMime("video/" + c.String()); got != c {
			t.Errorf("CodecFromMime(video/%s) = %v", c, got)
		}
	}
	if got := Codec(-1).String(); got != "unknown" {
		t.Errorf("Codec(-1).String() = %q", got)
	}
	if got := Codec(42).String(); got != "unknown" {
		t.Errorf("Codec(42).String() = %q", got)
	}
}

// keyframeTests are hand-made payloads, true and false, for each format.
var keyframeTests = []struct {
	name    string
	codec   Codec
	payload []byte
	want    bool
}{
	// VP8: X|R|N|S|R|PID, then I|L|T|K, picture id, TL0PICIDX, TID|Y|KEYIDX,
	// then the payload header whose bit 0 is P (0 on a key frame).
	{"vp8 minimal key frame", CodecVP8, []byte{0x10, 0x00}, true},
	{"vp8 browser key frame", CodecVP8, []byte{0x90, 0xe0, 0x80 | 0x12, 0x34, 0x07, 0x40, 0x50, 0x2d, 0x01, 0x9d, 0x01, 0x2a}, true},
	{"vp8 browser inter frame", CodecVP8, []byte{0x90, 0xe0, 0x80 | 0x12, 0x35, 0x07, 0x40, 0x51, 0x2d, 0x01}, false},
	{"vp8 15-bit picture id", CodecVP8, []byte{0x90, 0x80, 0x81, 0x01, 0x00}, true},
	{"vp8 7-bit picture id", CodecVP8, []byte{0x90, 0x80, 0x01, 0x00, 0x01}, true},
	{"vp8 7-bit picture id, inter", CodecVP8, []byte{0x90, 0x80, 0x01, 0x01, 0x00}, false},
	{"vp8 TL0PICIDX only", CodecVP8, []byte{0x90, 0x40, 0x01, 0x00}, true},
	{"vp8 KEYIDX only", CodecVP8, []byte{0x90, 0x10, 0x01, 0x00}, true},
	{"vp8 TID and KEYIDX share a byte", CodecVP8, []byte{0x90, 0x30, 0x41, 0x00}, true},
	{"vp8 extension without fields", CodecVP8, []byte{0x90, 0x00, 0x00}, true},
	{"vp8 not a partition start", CodecVP8, []byte{0x00, 0x00}, false},
	{"vp8 second partition", CodecVP8, []byte{0x11, 0x00}, false},
	{"vp8 non-reference key frame", CodecVP8, []byte{0x30, 0x00}, true},
	{"vp8 empty", CodecVP8, nil, false},
	{"vp8 descriptor only", CodecVP8, []byte{0x10}, false},
	{"vp8 truncated extension", CodecVP8, []byte{0x90}, false},
	{"vp8 truncated picture id", CodecVP8, []byte{0x90, 0x80}, false},
	{"vp8 truncated 15-bit picture id", CodecVP8, []byte{0x90, 0x80, 0x81}, false},
	{"vp8 truncated before payload", CodecVP8, []byte{0x90, 0xe0, 0x80 | 0x12, 0x34, 0x07, 0x40}, false},
	{"vp8 truncated TL0PICIDX", CodecVP8, []byte{0x90, 0x40}, false},

	// VP9: I|P|L|F|B|E|V|Z, picture id, TID|U|SID|D (+ TL0PICIDX when not
	// flexible), scalability structure; the frame follows.
	{"vp9 browser key frame with SS", CodecVP9, []byte{
		0xaa,              // I, L, B, V
		0x80 | 0x12, 0x34, // 15-bit picture id
		0x00, 0x07, // SID 0, TL0PICIDX
		0x18, 0x02, 0x80, 0x01, 0x68, 0x01, 0x00, // N_S 0, Y, G; 640x360; one group entry without references
		0x82, 0x49, 0x83, // the frame's uncompressed header
	}, true},
	{"vp9 inter frame", CodecVP9, []byte{0xe8, 0x80 | 0x12, 0x35, 0x00, 0x07, 0x86}, false},
	{"vp9 key frame, not the first packet", CodecVP9, []byte{0xa4, 0x80 | 0x12, 0x34, 0x00, 0x07, 0x00}, false},
	{"vp9 key frame, spatial layer 1", CodecVP9, []byte{0xa8, 0x80 | 0x12, 0x34, 0x02, 0x07, 0x82}, false},
	{"vp9 key frame, spatial layer 2 depending on 1", CodecVP9, []byte{0xa8, 0x05, 0x05, 0x07, 0x82}, false},
	{"vp9 no layer indices", CodecVP9, []byte{0x08, 0x82}, true},
	{"vp9 7-bit picture id", CodecVP9, []byte{0x88, 0x05, 0x82}, true},
	{"vp9 flexible mode has no TL0PICIDX", CodecVP9, []byte{0xb8, 0x05, 0x00, 0x82}, true},
	{"vp9 flexible mode, temporal layer 2", CodecVP9, []byte{0xb8, 0x05, 0x40, 0x82}, true},
	{"vp9 SS without Y or G", CodecVP9, []byte{0x0a, 0x00, 0x82}, true},
	{"vp9 SS with references", CodecVP9, []byte{0x0a, 0x08, 0x02, 0x00, 0x24, 0x01, 0x02, 0x82}, true},
	{"vp9 empty", CodecVP9, nil, false},
	{"vp9 descriptor only", CodecVP9, []byte{0x08}, false},
	{"vp9 truncated picture id", CodecVP9, []byte{0x88}, false},
	{"vp9 truncated 15-bit picture id", CodecVP9, []byte{0x88, 0x80}, false},
	{"vp9 truncated layer indices", CodecVP9, []byte{0xa8, 0x05}, false},
	{"vp9 truncated TL0PICIDX", CodecVP9, []byte{0xa8, 0x05, 0x00}, false},
	{"vp9 truncated SS", CodecVP9, []byte{0x0a}, false},
	{"vp9 truncated SS sizes", CodecVP9, []byte{0x0a, 0x30, 0x02, 0x80, 0x01, 0x68, 0x02, 0x80}, false},
	{"vp9 truncated SS group", CodecVP9, []byte{0x0a, 0x08, 0x02, 0x00}, false},
	{"vp9 truncated SS references", CodecVP9, []byte{0x0a, 0x08, 0x01, 0x08, 0x01}, false},
	{"vp9 SS with nothing after", CodecVP9, []byte{0xaa, 0x80 | 0x12, 0x34, 0x00, 0x07, 0x18, 0x02, 0x80, 0x01, 0x68, 0x01, 0x00}, false},

	// H.264: F|NRI|Type.
	{"h264 IDR slice", CodecH264, []byte{0x65, 0x88, 0x84}, true},
	{"h264 SPS", CodecH264, []byte{0x67, 0x42, 0xc0, 0x1f}, true},
	{"h264 PPS alone", CodecH264, []byte{0x68, 0xce, 0x3c, 0x80}, false},
	{"h264 non-IDR slice", CodecH264, []byte{0x41, 0x9a}, false},
	{"h264 SEI", CodecH264, []byte{0x06, 0x05}, false},
	{"h264 STAP-A SPS and PPS", CodecH264, []byte{0x78, 0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f, 0x00, 0x02, 0x68, 0xce}, true},
	{"h264 STAP-A PPS then IDR", CodecH264, []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x65, 0x88}, true},
	{"h264 STAP-A without a key unit", CodecH264, []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x06, 0x05}, false},
	{"h264 STAP-A empty", CodecH264, []byte{0x78}, false},
	{"h264 STAP-A truncated size", CodecH264, []byte{0x78, 0x00}, false},
	{"h264 STAP-A size past the end", CodecH264, []byte{0x78, 0x00, 0x05, 0x67, 0x42}, false},
	{"h264 STAP-A zero size", CodecH264, []byte{0x78, 0x00, 0x00, 0x67}, false},
	{"h264 STAP-A IDR past the end", CodecH264, []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x09, 0x65, 0x88}, false},
	{"h264 FU-A start of IDR", CodecH264, []byte{0x7c, 0x85, 0x88, 0x84}, true},
	{"h264 FU-A start of SPS", CodecH264, []byte{0x7c, 0x87, 0x42}, true},
	{"h264 FU-A middle of IDR", CodecH264, []byte{0x7c, 0x05, 0x11}, false},
	{"h264 FU-A end of IDR", CodecH264, []byte{0x7c, 0x45, 0x11}, false},
	{"h264 FU-A start of non-IDR", CodecH264, []byte{0x5c, 0x81, 0x9a}, false},
	{"h264 FU-A truncated", CodecH264, []byte{0x7c}, false},
	{"h264 FU-B", CodecH264, []byte{0x7d, 0x85, 0x00, 0x01}, false},
	{"h264 empty", CodecH264, nil, false},

	// AV1: Z|Y|W|N|-|-|-.
	{"av1 new coded video sequence", CodecAV1, []byte{0x18, 0x0a, 0x0b, 0x00}, true},
	{"av1 N without W", CodecAV1, []byte{0x08, 0x0a}, true},
	{"av1 not a new sequence", CodecAV1, []byte{0x10, 0x32}, false},
	{"av1 N on a continuation", CodecAV1, []byte{0x98, 0x32}, false},
	{"av1 header only", CodecAV1, []byte{0x18}, false},
	{"av1 empty", CodecAV1, nil, false},

	{"opus", CodecOpus, []byte{0xfc, 0xff, 0xfe}, true},
	{"opus empty", CodecOpus, nil, false},
	{"unknown codec", CodecUnknown, []byte{0x10, 0x00}, false},
	{"out of range codec", Codec(42), []byte{0x65}, false},
}

func TestIsKeyframe(t *testing.T) {
	for _, tt := range keyframeTests {
		if got := IsKeyframe(tt.codec, tt.payload); got != tt.want {
			t.Errorf("%s: IsKeyframe(%v, % x) = %v, want %v", tt.name, tt.codec, tt.payload, got, tt.want)
		}
	}
}

// TestIsKeyframeTruncated cuts every keyframe of the table at every
// length: no prefix may read past its end, and a keyframe decision, once
// made, survives trailing bytes.
func TestIsKeyframeTruncated(t *testing.T) {
	for _, tt := range keyframeTests {
		for n := range len(tt.payload) {
			p := tt.payload[:n:n]
			if IsKeyframe(tt.codec, p) && !IsKeyframe(tt.codec, append(p, 0xff)) {
				t.Errorf("%s: %d bytes are a keyframe, one more is not", tt.name, n)
			}
		}
	}
}

func TestIsKeyframeAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		for _, tt := range keyframeTests {
			IsKeyframe(tt.codec, tt.payload)
		}
	})
	if allocs != 0 {
		t.Errorf("IsKeyframe allocates %v times per run", allocs)
	}
}

func FuzzIsKeyframe(f *testing.F) {
	for _, tt := range keyframeTests {
		f.Add(byte(tt.codec), tt.payload)
	}
	f.Fuzz(func(t *testing.T, codec byte, payload []byte) {
		c := Codec(codec % 8) // the known codecs and a few unknown ones
		p := payload[:len(payload):len(payload)]
		if IsKeyframe(c, p) && !IsKeyframe(c, append(p, 0x00)) {
			t.Fatalf("%v: % x is a keyframe, but not with a byte more", c, p)
		}
		if w, h, ok := VP8KeyframeSize(p); ok && (!IsKeyframe(CodecVP8, p) || w > 0x3fff || h > 0x3fff) {
			t.Fatalf("% x: a size (%dx%d) for a packet that is no VP8 keyframe", p, w, h)
		}
	})
}

func TestVP8KeyframeSize(t *testing.T) {
	// Descriptor with a 15-bit picture id, frame tag of a keyframe, start
	// code, 1280 (0x500) and 720 (0x2d0) with scaling bits set on the
	// width.
	key := []byte{0x90, 0x80, 0x81, 0x23, 0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2a, 0x00, 0x45, 0xd0, 0x02}
	if w, h, ok := VP8KeyframeSize(key); !ok || w != 1280 || h != 720 {
		t.Fatalf("got %dx%d %v, want 1280x720", w, h, ok)
	}
	for name, p := range map[string][]byte{
		"inter frame":   {0x10, 0x51, 0x2a, 0x01, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02},
		"bad start":     {0x10, 0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2b, 0x00, 0x05, 0xd0, 0x02},
		"truncated":     {0x10, 0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0},
		"not the start": {0x00, 0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02},
	} {
		if _, _, ok := VP8KeyframeSize(p); ok {
			t.Errorf("%s: a size was read", name)
		}
	}
}

func benchmarkIsKeyframe(b *testing.B, c Codec, payload []byte) {
	b.ReportAllocs()
	for b.Loop() {
		if !IsKeyframe(c, payload) {
			b.Fatal("not a keyframe")
		}
	}
}

func BenchmarkIsKeyframeVP8(b *testing.B) {
	benchmarkIsKeyframe(b, CodecVP8, []byte{0x90, 0xe0, 0x80 | 0x12, 0x34, 0x07, 0x40, 0x50, 0x2d, 0x01, 0x9d, 0x01, 0x2a})
}

func BenchmarkIsKeyframeH264STAPA(b *testing.B) {
	benchmarkIsKeyframe(b, CodecH264, []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x65, 0x88})
}
