package archive

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/test/live"
)

// av1Encoded are sequence headers of real encoders, with the CodecPrivate
// ffmpeg's own Matroska muxer writes for them. Each was made with ffmpeg
// 5.1 (Debian 12) from
//
//	ffmpeg -f lavfi -i testsrc=size=176x100:rate=30 -t 0.5 -g 30 -pix_fmt P -c:v E [O] x.ivf
//	ffmpeg -i x.ivf -c copy x.mkv
//
// with P, E and O as named; codecPrivate is x.mkv's (ffprobe -show_data
// -show_entries stream=extradata), whose bytes after the first four are
// the sequence header OBU the encoder wrote. (libaom-av1 ran with -usage
// realtime -cpu-used 8, libsvtav1 with -preset 12, librav1e with -speed
// 10.)
var av1Encoded = []struct {
	name          string
	codecPrivate  string
	width, height int
}{
	{"libaom-av1 yuv420p", "81000c000a0a00000003b57e336be401", 176, 100},
	{"libaom-av1 yuv420p, timing-info=model (decoder model, operating parameters)",
		"81000c000a1d040000000400000079780000000a530000035f915f90bbb57e336be401", 176, 100},
	{"libaom-av1 yuv420p, timing-info=constant (equal picture interval)", "81000c000a1304000000040000007b400000bbb57e336be401", 176, 100},
	{"libaom-av1 yuv444p (profile 1)", "812000000a0a20000003b57e336be408", 176, 100},
	{"libaom-av1 yuv420p10le (high bit depth)", "81004c000a0a00000003b57e336be501", 176, 100},
	{"libaom-av1 yuv420p12le (profile 2, twelve bit)", "81406c000a0b40000003b57e336be58c20", 176, 100},
	{"libaom-av1 yuv422p (profile 2)", "814008000a0a40000003b57e336be404", 176, 100},
	{"libaom-av1 gray (monochrome)", "81001c000a0a00000003b57e336be4a8", 176, 100},
	{"libaom-av1 gbrp (sRGB identity matrix)", "812000000a0d20000003b57e336be480868010", 176, 100},
	{"libaom-av1 -still-picture 1 (reduced still picture header)", "81000c000a06181dabf1b601", 176, 100},
	{"libsvtav1 yuv420p", "81000c000a0a00000003b57e33efe401", 176, 100},
	{"libsvtav1 yuv420p10le", "81004c000a0a00000003b57e33efe501", 176, 100},
	{"librav1e yuv420p (level 31, tier coded)", "811f0c000a0e000000f9dabf18842a2040404280", 176, 100},
}

// obu returns an OBU of type typ with its size field.
func obu(typ int, payload ...byte) []byte {
	return append(appendLEB128([]byte{byte(typ<<3) | 0x02}, uint64(len(payload))), payload...)
}

// Frame OBUs whose frame header says a key frame (show_existing_frame 0,
// frame_type KEY_FRAME, show_frame 1: the first bits of libaom's key
// frames), an inter frame, and a frame that only shows an earlier one.
var (
	av1KeyFrame   = obu(obuFrame, 0x10, 0x00, 0x5a, 0xa5)
	av1InterFrame = obu(obuFrame, 0x30, 0x11, 0x22)
	av1ShowFrame  = obu(obuFrameHeader, 0x80)
	av1Delimiter  = obu(obuTemporalDelimiter)
)

// TestAV1Config reads the sequence headers of real encoders: the
// CodecPrivate built from a temporal unit that starts with one is the
// one ffmpeg writes, and the block made of the unit is a keyframe
// without the temporal delimiter.
func TestAV1Config(t *testing.T) {
	for _, tc := range av1Encoded {
		t.Run(tc.name, func(t *testing.T) {
			want, err := hex.DecodeString(tc.codecPrivate)
			if err != nil {
				t.Fatal(err)
			}
			seq := want[4:]
			tu := append(append(append([]byte{}, av1Delimiter...), seq...), av1KeyFrame...)
			cfg, ok := av1Config(tu)
			if !ok || !bytes.Equal(cfg.codecPrivate, want) || cfg.width != tc.width || cfg.height != tc.height {
				t.Fatalf("av1Config: %x %dx%d %v, want %x %dx%d", cfg.codecPrivate, cfg.width, cfg.height, ok, want, tc.width, tc.height)
			}
			block, key, ok := av1Block(tu)
			if wantBlock := append(append([]byte{}, seq...), av1KeyFrame...); !ok || !key || !bytes.Equal(block, wantBlock) {
				t.Errorf("av1Block: %x key %v ok %v, want %x, a keyframe", block, key, ok, wantBlock)
			}
		})
	}
}

// av1BitWriter writes the fields of a sequence header for the cases no
// encoder at hand writes.
type av1BitWriter struct {
	b []byte
	n int
}

func (w *av1BitWriter) f(bits int, v uint64) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>i&1) << (7 - w.n%8)
		w.n++
	}
}

// TestAV1SequenceHeaderOperatingPoints walks what libaom never writes:
// several operating points, each with a tier, operating parameters and
// an initial display delay, and a uvlc of many bits; the fields after
// them must still be read right.
func TestAV1SequenceHeaderOperatingPoints(t *testing.T) {
	w := &av1BitWriter{}
	w.f(3, 2) // seq_profile
	w.f(1, 0) // still_picture
	w.f(1, 0) // reduced_still_picture_header
	w.f(1, 1) // timing_info_present_flag
	w.f(32, 1001)
	w.f(32, 60000)
	w.f(1, 1)      // equal_picture_interval
	w.f(11, 0)     // uvlc: 11 leading zeros,
	w.f(1, 1)      // the stop bit,
	w.f(11, 0x555) // and 11 bits of value
	w.f(1, 1)      // decoder_model_info_present_flag
	w.f(5, 9)      // buffer_delay_length_minus_1: 10 bits
	w.f(32, 90000) // num_units_in_decoding_tick
	w.f(5, 3)      // buffer_removal_time_length_minus_1
	w.f(5, 4)      // frame_presentation_time_length_minus_1
	w.f(1, 1)      // initial_display_delay_present_flag
	w.f(5, 2)      // operating_points_cnt_minus_1: 3 points
	for i, level := range []uint64{13, 5, 9} {
		w.f(12, 0x103) // operating_point_idc
		w.f(5, level)  // seq_level_idx
		if level > 7 {
			w.f(1, uint64(1-i%2)) // seq_tier: 1, then 0, then 1
		}
		w.f(1, 1)           // decoder_model_present_for_this_op
		w.f(10, 0x3FF)      // decoder_buffer_delay
		w.f(10, 0x155)      // encoder_buffer_delay
		w.f(1, 1)           // low_delay_mode_flag
		w.f(1, uint64(i%2)) // initial_display_delay_present_for_this_op
		if i%2 == 1 {
			w.f(4, 7)
		}
	}
	w.f(4, 10)    // frame_width_bits_minus_1
	w.f(4, 10)    // frame_height_bits_minus_1
	w.f(11, 1919) // max_frame_width_minus_1
	w.f(11, 1079) // max_frame_height_minus_1
	w.f(1, 1)     // frame_id_numbers_present_flag
	w.f(4, 5)
	w.f(3, 2)
	w.f(3, 0b101) // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
	w.f(4, 0b1111)
	w.f(1, 1) // enable_order_hint
	w.f(2, 0b11)
	w.f(1, 0) // seq_choose_screen_content_tools
	w.f(1, 1) // seq_force_screen_content_tools
	w.f(1, 0) // seq_choose_integer_mv
	w.f(1, 1) // seq_force_integer_mv
	w.f(3, 6) // order_hint_bits_minus_1
	w.f(3, 0) // enable_superres, enable_cdef, enable_restoration
	// color_config
	w.f(1, 1) // high_bitdepth
	w.f(1, 1) // twelve_bit
	w.f(1, 0) // mono_chrome
	w.f(1, 1) // color_description_present_flag
	w.f(24, 0x091009)
	w.f(1, 1) // color_range
	w.f(1, 1) // subsampling_x
	w.f(1, 1) // subsampling_y
	w.f(2, 2) // chroma_sample_position
	w.f(1, 0) // separate_uv_delta_q
	w.f(1, 0) // film_grain_params_present
	s, err := parseAV1SequenceHeader(w.b)
	if err != nil {
		t.Fatal(err)
	}
	want := av1SequenceHeader{profile: 2, level0: 13, tier0: 1, width: 1920, height: 1080, highBitdepth: true,
		twelveBit: true, subsamplingX: true, subsamplingY: true, chromaSamples: 2}
	if s != want {
		t.Fatalf("parsed %+v, want %+v", s, want)
	}
	if c := s.av1C(); !bytes.Equal(c, []byte{0x81, 0x4D, 0xEE, 0}) {
		t.Errorf("av1C %x, want 814dee00", c)
	}
	// Cut anywhere, it does not parse.
	for n := range len(w.b) - 1 {
		if _, err := parseAV1SequenceHeader(w.b[:n]); err == nil {
			t.Errorf("cut to %d of %d bytes: parsed", n, len(w.b))
		}
	}
}

// TestAV1Block: what Matroska leaves out goes, and a block is a keyframe
// only with a sequence header and a first frame header of a key frame.
func TestAV1Block(t *testing.T) {
	seq, _ := hex.DecodeString("0a0a00000003b57e336be401")
	still, _ := hex.DecodeString("0a06181dabf1b601")
	cat := func(obus ...[]byte) []byte { return bytes.Join(obus, nil) }
	metadata := obu(5, 1, 2, 3)
	noSize := []byte{obuFrame << 3, 0x10, 0xAB} // the last OBU may lack its size field
	for _, tc := range []struct {
		name    string
		tu      []byte
		want    []byte
		key, ok bool
	}{
		{"keyframe", cat(av1Delimiter, seq, av1KeyFrame), cat(seq, av1KeyFrame), true, true},
		{"keyframe with padding, tile list, metadata", cat(av1Delimiter, seq, obu(obuPadding, 0, 0), metadata, av1KeyFrame, obu(obuTileList, 9), obu(obuPadding)),
			cat(seq, metadata, av1KeyFrame), true, true},
		{"keyframe without delimiter, last OBU without size", cat(seq, noSize), cat(seq, noSize), true, true},
		{"key frame without a sequence header", cat(av1Delimiter, av1KeyFrame), av1KeyFrame, false, true},
		{"sequence header after the frame", cat(av1KeyFrame, seq), cat(av1KeyFrame, seq), false, true},
		{"first sequence header does not parse", cat(obu(obuSequenceHeader), seq, av1KeyFrame), cat(obu(obuSequenceHeader), seq, av1KeyFrame), false, true},
		{"inter frame", cat(av1Delimiter, av1InterFrame), av1InterFrame, false, true},
		{"inter frame after a sequence header", cat(seq, av1InterFrame), cat(seq, av1InterFrame), false, true},
		{"shows an earlier frame", cat(seq, av1ShowFrame, av1KeyFrame), cat(seq, av1ShowFrame, av1KeyFrame), false, true},
		{"reduced still picture", cat(still, obu(obuFrame, 0xFF)), cat(still, obu(obuFrame, 0xFF)), true, true},
		{"frame header with extension", cat(seq, []byte{obuFrame<<3 | 0x06, 0x28, 1, 0x10}), cat(seq, []byte{obuFrame<<3 | 0x06, 0x28, 1, 0x10}), true, true},
		{"empty frame header", cat(seq, obu(obuFrameHeader)), cat(seq, obu(obuFrameHeader)), false, true},
		{"no frame header", cat(av1Delimiter, seq, metadata), nil, false, false},
		{"empty", nil, nil, false, false},
		{"forbidden bit", cat(seq, []byte{0x80 | obuFrame<<3 | 2, 1, 0x10}), nil, false, false},
		{"size past the end", cat(seq, []byte{obuFrame<<3 | 2, 9, 0x10}), nil, false, false},
		{"size unfinished", cat(seq, []byte{obuFrame<<3 | 2, 0x80}), nil, false, false},
		{"size too large", cat(seq, []byte{obuFrame<<3 | 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), nil, false, false},
		{"extension missing", []byte{obuFrame<<3 | 0x04}, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			block, key, ok := av1Block(bytes.Clone(tc.tu))
			if ok != tc.ok || key != tc.key || !bytes.Equal(block, tc.want) {
				t.Errorf("got %x key %v ok %v, want %x key %v ok %v", block, key, ok, tc.want, tc.key, tc.ok)
			}
		})
	}
	if _, ok := av1Config(cat(av1Delimiter, av1KeyFrame)); ok {
		t.Error("a configuration without a sequence header")
	}
	if _, ok := av1Config(cat(av1Delimiter, obu(obuSequenceHeader, 0x00), av1KeyFrame)); ok {
		t.Error("a configuration from a truncated sequence header")
	}
}

// av1Encoders are the encoders of the tests that encode, with options
// fit for a quick run.
var av1Encoders = []struct {
	name    string
	options []string
}{
	{"libaom-av1", []string{"-usage", "realtime", "-cpu-used", "8", "-b:v", "200k"}},
	{"libsvtav1", []string{"-preset", "12", "-b:v", "200k"}},
	{"librav1e", []string{"-speed", "10", "-b:v", "200k"}},
}

// encodeAV1 encodes seconds of a 320x240 test picture at 30 fps, a
// keyframe every gop frames, with the encoder av1Encoders[i] into an IVF
// file in dir; it skips t when ffmpeg lacks the encoder.
func encodeAV1(t *testing.T, dir string, i int, seconds string, gop int) string {
	t.Helper()
	ffmpeg := live.Require(t, "ffmpeg")
	enc := av1Encoders[i]
	out, err := exec.Command(ffmpeg, "-hide_banner", "-encoders").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), " "+enc.name+" ") {
		live.Missing(t, "ffmpeg has no "+enc.name)
	}
	path := filepath.Join(dir, enc.name+".ivf")
	g := strconv.Itoa(gop)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
		"-t", seconds, "-pix_fmt", "yuv420p", "-g", g, "-keyint_min", g, "-c:v", enc.name}
	args = append(append(args, enc.options...), path)
	if b, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return path
}

// readIVF returns the frames (temporal units) of an IVF file.
func readIVF(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		b, _, err := r.ParseNextFrame()
		if err != nil {
			return out
		}
		out = append(out, b)
	}
}

// TestAV1Encoders checks the parser and the blocks against ffmpeg's own
// Matroska muxer on the output of each AV1 encoder ffmpeg has: the
// CodecPrivate built from the first temporal unit is the one ffmpeg
// writes, and every block is the one ffmpeg writes for the unit, with
// the same keyframes.
func TestAV1Encoders(t *testing.T) {
	for i, enc := range av1Encoders {
		t.Run(enc.name, func(t *testing.T) {
			dir := t.TempDir()
			ivf := encodeAV1(t, dir, i, "1", 10)
			mkv := filepath.Join(dir, "remuxed.mkv")
			if b, err := exec.Command(live.Require(t, "ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", ivf, "-c", "copy", mkv).CombinedOutput(); err != nil {
				t.Fatalf("remux: %v\n%s", err, b)
			}
			b, err := os.ReadFile(mkv)
			if err != nil {
				t.Fatal(err)
			}
			var file struct {
				Segment webm.Segment `ebml:"Segment"`
			}
			if err := ebml.Unmarshal(bytes.NewReader(b), &file, ebml.WithIgnoreUnknown(true)); err != nil && len(file.Segment.Tracks.TrackEntry) == 0 {
				t.Fatal(err)
			}
			var blocks []ebml.Block
			for _, c := range file.Segment.Cluster {
				blocks = append(blocks, c.SimpleBlock...)
			}
			tus := readIVF(t, ivf)
			if len(file.Segment.Tracks.TrackEntry) != 1 || len(blocks) != len(tus) || len(tus) < 30 {
				t.Fatalf("%d temporal units; ffmpeg wrote %d blocks, tracks %+v", len(tus), len(blocks), file.Segment.Tracks)
			}
			want := file.Segment.Tracks.TrackEntry[0].CodecPrivate
			cfg, ok := av1Config(tus[0])
			if !ok || !bytes.Equal(cfg.codecPrivate, want) || cfg.width != 320 || cfg.height != 240 {
				t.Errorf("CodecPrivate %x (%dx%d), ffmpeg's %x", cfg.codecPrivate, cfg.width, cfg.height, want)
			}
			keyframes := 0
			for j, tu := range tus {
				block, key, ok := av1Block(tu)
				if !ok || key != blocks[j].Keyframe || len(blocks[j].Data) != 1 || !bytes.Equal(block, blocks[j].Data[0]) {
					t.Fatalf("unit %d: block %d bytes, key %v, ok %v; ffmpeg's %d bytes, key %v", j, len(block), key, ok,
						len(blocks[j].Data[0]), blocks[j].Keyframe)
				}
				if key {
					keyframes++
				}
			}
			t.Logf("%s: %d temporal units, %d keyframes, CodecPrivate %x", enc.name, len(tus), keyframes, want)
			if keyframes < 3 {
				t.Errorf("%d keyframes in 1 s, a keyframe every 10 frames", keyframes)
			}
		})
	}
}

// checkBlock fails t unless block is made of whole OBUs, none of those
// Matroska leaves out.
func checkBlock(t *testing.T, block []byte) {
	t.Helper()
	for rest := block; len(rest) > 0; {
		o, next, err := nextAV1OBU(rest)
		if err != nil {
			t.Fatalf("block %x: %v", block, err)
		}
		if o.typ == obuTemporalDelimiter || o.typ == obuTileList || o.typ == obuPadding {
			t.Fatalf("block %x keeps an OBU of type %d", block, o.typ)
		}
		rest = next
	}
}

// FuzzAV1Config feeds temporal units to the sequence header parser and
// the block maker: neither may panic, and what they accept is well formed.
func FuzzAV1Config(f *testing.F) {
	for _, tc := range av1Encoded {
		b, _ := hex.DecodeString(tc.codecPrivate)
		f.Add(bytes.Join([][]byte{av1Delimiter, b[4:], av1KeyFrame}, nil))
		f.Add(b[6:])
	}
	f.Add(bytes.Join([][]byte{av1Delimiter, obu(obuPadding, 1), av1InterFrame, obu(obuTileList)}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseAV1SequenceHeader(b)
		cfg, ok := av1Config(b)
		if ok {
			p := cfg.codecPrivate
			if len(p) < 6 || p[0] != 0x81 || p[3] != 0 || cfg.width < 1 || cfg.height < 1 {
				t.Fatalf("configuration %x %dx%d", p, cfg.width, cfg.height)
			}
			o, rest, err := nextAV1OBU(p[4:])
			if err != nil || len(rest) != 0 || o.typ != obuSequenceHeader {
				t.Fatalf("configuration %x: the OBU after av1C is not one whole sequence header", p)
			}
			s, err := parseAV1SequenceHeader(o.payload)
			if err != nil || !bytes.Equal(s.av1C(), p[:4]) {
				t.Fatalf("configuration %x does not read back: %v", p, err)
			}
		}
		block, key, ok := av1Block(bytes.Clone(b))
		if !ok {
			if key || block != nil {
				t.Fatalf("refused, yet block %x key %v", block, key)
			}
			return
		}
		if len(block) > len(b) {
			t.Fatalf("block of %d bytes from %d", len(block), len(b))
		}
		checkBlock(t, block)
		if key {
			if _, ok := av1Config(block); !ok {
				t.Fatalf("keyframe %x without a configuration", block)
			}
		}
	})
}

// FuzzAV1Frame rebuilds a temporal unit from RTP payloads as the
// recorder does (each payload here is prefixed by its length), then makes
// it a block: hostile payloads must not panic the depacketizer or what
// follows it.
func FuzzAV1Frame(f *testing.F) {
	var pay codecs.AV1Payloader
	for _, tu := range [][]byte{
		bytes.Join([][]byte{av1Delimiter, mustHex("0a0a00000003b57e336be401"), obu(obuFrame, bytes.Repeat([]byte{0x10, 7}, 40)...)}, nil),
		bytes.Join([][]byte{av1Delimiter, av1InterFrame}, nil),
	} {
		var in []byte
		for _, p := range pay.Payload(30, tu) {
			in = append(append(in, byte(len(p))), p...)
		}
		f.Add(in)
	}
	f.Add([]byte{3, 0x80, 0x01, 0x02, 2, 0x40, 0x0a})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := videoCodecs[sfu.CodecAV1]
		d := c.depacketizer()
		var tu []byte
		for len(b) > 0 {
			n := min(int(b[0]), len(b)-1)
			p := b[1 : 1+n]
			b = b[1+n:]
			d.IsPartitionHead(p)
			out, err := d.Unmarshal(p)
			if err != nil {
				return
			}
			tu = append(tu, out...)
		}
		if len(tu) == 0 {
			return
		}
		if block, _, ok := c.block(tu); ok {
			checkBlock(t, block)
		}
		c.config(tu)
	})
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
