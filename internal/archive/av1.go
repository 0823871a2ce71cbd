package archive

import "errors"

// AV1 in Matroska and WebM (the Matroska AV1 codec mapping): a block is
// one temporal unit in the low-overhead bitstream format (every OBU with
// its size field), without its temporal delimiter; the track's
// CodecPrivate is an av1C record (ISOBMFF AV1CodecConfigurationRecord)
// followed by the sequence header OBU. The depacketizer rebuilds
// temporal units in that format already; what is left is found here:
// the sequence header's fields the av1C record repeats, and which
// temporal units are keyframes.

// OBU types (AV1 specification section 6.2.2).
const (
	obuSequenceHeader    = 1
	obuTemporalDelimiter = 2
	obuFrameHeader       = 3
	obuFrame             = 6
	obuTileList          = 8
	obuPadding           = 15
)

var errAV1 = errors.New("archive: malformed AV1 bitstream")

// av1OBU is one OBU of a temporal unit.
type av1OBU struct {
	typ int
	// whole is the OBU from its header to the end of its payload;
	// payload is what follows the header and the size field.
	whole, payload []byte
}

// nextAV1OBU splits the first OBU off b, which must not be empty. An OBU
// without a size field fills the rest of b, as Matroska allows of the
// last OBU of a block.
func nextAV1OBU(b []byte) (o av1OBU, rest []byte, err error) {
	h := b[0]
	if h&0x80 != 0 {
		return o, nil, errAV1 // obu_forbidden_bit
	}
	typ := int(h>>3) & 0x0F
	n := 1
	if h&0x04 != 0 { // obu_extension_flag
		n = 2
	}
	if len(b) < n {
		return o, nil, errAV1
	}
	if h&0x02 == 0 { // no obu_has_size_field
		return av1OBU{typ: typ, whole: b, payload: b[n:]}, nil, nil
	}
	size, m, ok := readLEB128(b[n:])
	if !ok || size > uint64(len(b)-n-m) {
		return o, nil, errAV1
	}
	end := n + m + int(size)
	return av1OBU{typ: typ, whole: b[:end], payload: b[n+m : end]}, b[end:], nil
}

// readLEB128 reads an unsigned LEB128 number (AV1 specification section
// 4.10.5: at most 8 bytes, a value below 2^32).
func readLEB128(b []byte) (v uint64, n int, ok bool) {
	for i := 0; i < 8 && i < len(b); i++ {
		v |= uint64(b[i]&0x7F) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, v <= 0xFFFFFFFF
		}
	}
	return 0, 0, false
}

func appendLEB128(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// av1BitReader reads the fixed-width fields (f(n)) of AV1 headers, most
// significant bit first. Reading past the end sets err and yields zeros,
// so that a parser checks once, at its end.
type av1BitReader struct {
	b   []byte
	pos int // in bits
	err bool
}

func (r *av1BitReader) f(n int) uint64 {
	var v uint64
	for range n {
		if r.pos >= 8*len(r.b) {
			r.err = true
			return 0
		}
		v = v<<1 | uint64(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

func (r *av1BitReader) flag() bool { return r.f(1) == 1 }

// uvlc skips a variable-length unsigned number (section 4.10.3).
func (r *av1BitReader) uvlc() {
	zeros := 0
	for !r.err && !r.flag() {
		zeros++
	}
	if zeros < 32 {
		r.f(zeros)
	}
}

// av1SequenceHeader is what the file needs of a sequence header OBU.
type av1SequenceHeader struct {
	profile       int
	level0, tier0 int // of operating point 0
	reducedStill  bool
	width, height int // the largest frame size of the sequence
	highBitdepth  bool
	twelveBit     bool
	monochrome    bool
	subsamplingX  bool
	subsamplingY  bool
	chromaSamples int // chroma_sample_position
}

// parseAV1SequenceHeader reads the payload of a sequence header OBU
// (section 5.5) up to the color config. Its work is bounded by the size
// of p: every loop reads bits or is bounded by a field of 5 bits.
func parseAV1SequenceHeader(p []byte) (av1SequenceHeader, error) {
	r := &av1BitReader{b: p}
	var s av1SequenceHeader
	s.profile = int(r.f(3))
	r.f(1) // still_picture
	s.reducedStill = r.flag()
	if s.reducedStill {
		s.level0 = int(r.f(5))
	} else {
		decoderModelInfo := false
		bufferDelayLength := 0
		if r.flag() { // timing_info_present_flag
			r.f(32)       // num_units_in_display_tick
			r.f(32)       // time_scale
			if r.flag() { // equal_picture_interval
				r.uvlc() // num_ticks_per_picture_minus_1
			}
			decoderModelInfo = r.flag()
			if decoderModelInfo {
				bufferDelayLength = int(r.f(5)) + 1
				r.f(32) // num_units_in_decoding_tick
				r.f(5)  // buffer_removal_time_length_minus_1
				r.f(5)  // frame_presentation_time_length_minus_1
			}
		}
		initialDisplayDelay := r.flag()
		count := int(r.f(5)) + 1 // operating_points_cnt_minus_1
		for i := 0; i < count && !r.err; i++ {
			r.f(12) // operating_point_idc
			level := int(r.f(5))
			tier := 0
			if level > 7 {
				tier = int(r.f(1))
			}
			if i == 0 {
				s.level0, s.tier0 = level, tier
			}
			if decoderModelInfo && r.flag() { // decoder_model_present_for_this_op
				r.f(bufferDelayLength) // decoder_buffer_delay
				r.f(bufferDelayLength) // encoder_buffer_delay
				r.f(1)                 // low_delay_mode_flag
			}
			if initialDisplayDelay && r.flag() { // initial_display_delay_present_for_this_op
				r.f(4) // initial_display_delay_minus_1
			}
		}
	}
	widthBits := int(r.f(4)) + 1
	heightBits := int(r.f(4)) + 1
	s.width = int(r.f(widthBits)) + 1
	s.height = int(r.f(heightBits)) + 1
	if !s.reducedStill && r.flag() { // frame_id_numbers_present_flag
		r.f(4) // delta_frame_id_length_minus_2
		r.f(3) // additional_frame_id_length_minus_1
	}
	r.f(1) // use_128x128_superblock
	r.f(1) // enable_filter_intra
	r.f(1) // enable_intra_edge_filter
	if !s.reducedStill {
		r.f(1) // enable_interintra_compound
		r.f(1) // enable_masked_compound
		r.f(1) // enable_warped_motion
		r.f(1) // enable_dual_filter
		orderHint := r.flag()
		if orderHint {
			r.f(1) // enable_jnt_comp
			r.f(1) // enable_ref_frame_mvs
		}
		forceScreenContent := true // SELECT_SCREEN_CONTENT_TOOLS
		if !r.flag() {             // seq_choose_screen_content_tools
			forceScreenContent = r.flag()
		}
		if forceScreenContent && !r.flag() { // seq_choose_integer_mv
			r.f(1) // seq_force_integer_mv
		}
		if orderHint {
			r.f(3) // order_hint_bits_minus_1
		}
	}
	r.f(1) // enable_superres
	r.f(1) // enable_cdef
	r.f(1) // enable_restoration
	s.readColorConfig(r)
	if r.err {
		return av1SequenceHeader{}, errAV1
	}
	if s.profile > 2 {
		return av1SequenceHeader{}, errAV1 // reserved profiles
	}
	return s, nil
}

// readColorConfig reads color_config (section 5.5.2).
func (s *av1SequenceHeader) readColorConfig(r *av1BitReader) {
	s.highBitdepth = r.flag()
	bitDepth := 8
	if s.profile == 2 && s.highBitdepth {
		s.twelveBit = r.flag()
		bitDepth = 10
		if s.twelveBit {
			bitDepth = 12
		}
	} else if s.highBitdepth {
		bitDepth = 10
	}
	if s.profile != 1 {
		s.monochrome = r.flag()
	}
	primaries, transfer, matrix := 2, 2, 2 // unspecified
	if r.flag() {                          // color_description_present_flag
		primaries, transfer, matrix = int(r.f(8)), int(r.f(8)), int(r.f(8))
	}
	switch {
	case s.monochrome:
		r.f(1) // color_range
		s.subsamplingX, s.subsamplingY = true, true
		return
	case primaries == 1 && transfer == 13 && matrix == 0: // BT.709, sRGB, identity: 4:4:4
		s.subsamplingX, s.subsamplingY = false, false
	default:
		r.f(1) // color_range
		switch {
		case s.profile == 0:
			s.subsamplingX, s.subsamplingY = true, true
		case s.profile == 1:
			s.subsamplingX, s.subsamplingY = false, false
		case bitDepth == 12:
			s.subsamplingX = r.flag()
			if s.subsamplingX {
				s.subsamplingY = r.flag()
			}
		default:
			s.subsamplingX, s.subsamplingY = true, false
		}
		if s.subsamplingX && s.subsamplingY {
			s.chromaSamples = int(r.f(2))
		}
	}
	r.f(1) // separate_uv_delta_q
}

// av1C returns the four bytes of the av1C record s describes, without an
// initial presentation delay.
func (s av1SequenceHeader) av1C() []byte {
	bit := func(b bool, shift int) byte {
		if b {
			return 1 << shift
		}
		return 0
	}
	return []byte{
		0x81, // marker, version 1
		byte(s.profile)<<5 | byte(s.level0&0x1F),
		byte(s.tier0&1)<<7 | bit(s.highBitdepth, 6) | bit(s.twelveBit, 5) | bit(s.monochrome, 4) |
			bit(s.subsamplingX, 3) | bit(s.subsamplingY, 2) | byte(s.chromaSamples&3),
		0, // no initial presentation delay
	}
}

// av1Config builds the CodecPrivate of an AV1 track from the first
// sequence header OBU of a temporal unit: the av1C record, then the OBU
// itself with its size field. It reports false when the temporal unit
// has no sequence header that parses.
func av1Config(tu []byte) (videoConfig, bool) {
	for len(tu) > 0 {
		o, rest, err := nextAV1OBU(tu)
		if err != nil {
			return videoConfig{}, false
		}
		tu = rest
		if o.typ != obuSequenceHeader {
			continue
		}
		s, err := parseAV1SequenceHeader(o.payload)
		if err != nil {
			return videoConfig{}, false
		}
		b := s.av1C()
		b = append(b, o.whole[0]|0x02) // with obu_has_size_field
		if o.whole[0]&0x04 != 0 {
			b = append(b, o.whole[1])
		}
		b = appendLEB128(b, uint64(len(o.payload)))
		b = append(b, o.payload...)
		return videoConfig{codecPrivate: b, width: s.width, height: s.height}, true
	}
	return videoConfig{}, false
}

// av1Block makes a temporal unit a block of the file, in place: it drops
// the OBUs Matroska leaves out (temporal delimiters, tile lists,
// padding), and tells whether the unit is a keyframe, one decoding can
// start at: a sequence header (the first, which av1Config reads too),
// then a first frame header of a KEY_FRAME (that does not just show an
// earlier frame). It reports false for a unit that does not parse or
// holds no frame header.
func av1Block(tu []byte) (block []byte, keyframe, ok bool) {
	out := tu[:0]
	seen := false // a frame header
	seqSeen := false
	var seq *av1SequenceHeader // the first sequence header, when it parses
	for rest := tu; len(rest) > 0; {
		o, next, err := nextAV1OBU(rest)
		if err != nil {
			return nil, false, false
		}
		rest = next
		switch o.typ {
		case obuTemporalDelimiter, obuTileList, obuPadding:
			continue
		case obuSequenceHeader:
			if !seqSeen && !seen {
				if s, err := parseAV1SequenceHeader(o.payload); err == nil {
					seq = &s
				}
			}
			seqSeen = true
		case obuFrameHeader, obuFrame:
			if !seen {
				seen = true
				keyframe = seq != nil && av1KeyFrameHeader(o.payload, seq.reducedStill)
			}
		}
		// out never overtakes what is still to be read: copy handles
		// the overlap.
		out = append(out, o.whole...)
	}
	if !seen {
		return nil, false, false
	}
	return out, keyframe, true
}

// av1KeyFrameHeader reads the start of an uncompressed frame header
// (section 5.9.2): show_existing_frame, then frame_type, KEY_FRAME being 0.
// A sequence with a reduced still picture header has key frames only.
func av1KeyFrameHeader(p []byte, reducedStill bool) bool {
	if reducedStill {
		return true
	}
	if len(p) == 0 {
		return false
	}
	return p[0]&0x80 == 0 && p[0]&0x60 == 0
}
