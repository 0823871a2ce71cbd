package compositor

import (
	"encoding/binary"

	"github.com/pion/rtp/codecs"
	"github.com/pion/rtp/codecs/vp9"

	"github.com/parleyhq/parley/internal/sfu"
)

// A decoder keeps the size of its first picture for the rest of its run
// (ffmpeg scales later pictures to it), so a publisher that changes its
// resolution — a browser ramping up from a low start, a phone turned on
// its side — would stay blurred or squashed. Keyframes announce their
// size; when one differs from the decoder's pictures, the feed restarts
// the decoder on that keyframe. These parsers read that size.

// sizeSniffer reads the picture size of keyframe packets of one codec.
type sizeSniffer struct {
	codec sfu.Codec
	vp9   codecs.VP9Packet
	nal   []byte // an SPS without its emulation prevention bytes
}

// keyframeSize returns the picture size announced by an RTP payload that
// starts a keyframe, or false when it holds none (not a keyframe start, a
// codec without a parser here, or malformed data).
func (s *sizeSniffer) keyframeSize(payload []byte) (w, h int, ok bool) {
	switch s.codec {
	case sfu.CodecVP8:
		return sfu.VP8KeyframeSize(payload)
	case sfu.CodecVP9:
		return s.vp9KeyframeSize(payload)
	case sfu.CodecH264:
		return s.h264KeyframeSize(payload)
	}
	return 0, 0, false
}

// vp9KeyframeSize takes the size from the scalability structure of the
// payload descriptor (RFC 9628 section 4.2.1), which browsers send with
// keyframes — the largest spatial layer, the one the decoder shows — or,
// without one, from the uncompressed header of a single-layer keyframe.
func (s *sizeSniffer) vp9KeyframeSize(p []byte) (w, h int, ok bool) {
	pkt := &s.vp9
	if _, err := pkt.Unmarshal(p); err != nil || !pkt.B || pkt.P {
		return 0, 0, false
	}
	if pkt.V && pkt.Y {
		for i := range min(len(pkt.Width), len(pkt.Height)) {
			if lw, lh := int(pkt.Width[i]), int(pkt.Height[i]); lw*lh > w*h {
				w, h = lw, lh
			}
		}
		return w, h, w > 0 && h > 0
	}
	if pkt.L {
		return 0, 0, false // a layer of a picture whose full size is not given
	}
	var hdr vp9.Header
	if err := hdr.Unmarshal(pkt.Payload); err != nil || hdr.NonKeyFrame || hdr.FrameSize == nil {
		return 0, 0, false
	}
	w, h = int(hdr.Width()), int(hdr.Height())
	return w, h, w > 0 && h > 0
}

// h264KeyframeSize looks for a sequence parameter set in a single NAL unit
// packet or a STAP-A (RFC 6184 section 5.7.1) and returns its picture size.
func (s *sizeSniffer) h264KeyframeSize(p []byte) (w, h int, ok bool) {
	if len(p) < 1 {
		return 0, 0, false
	}
	switch p[0] & 0x1f {
	case 7:
		return s.spsSize(p)
	case 24:
		for i := 1; i+2 <= len(p); {
			n := int(binary.BigEndian.Uint16(p[i:]))
			i += 2
			if n == 0 || i+n > len(p) {
				return 0, 0, false
			}
			if p[i]&0x1f == 7 {
				return s.spsSize(p[i : i+n])
			}
			i += n
		}
	}
	return 0, 0, false
}

// maxSPS bounds the part of an SPS read: the size comes well before it
// even with scaling lists.
const maxSPS = 512

// spsSize parses the sequence parameter set nal (ITU-T H.264 section
// 7.3.2.1.1) up to the picture size and cropping.
func (s *sizeSniffer) spsSize(nal []byte) (w, h int, ok bool) {
	s.nal = s.nal[:0]
	zeros := 0
	for _, b := range nal[1:min(len(nal), maxSPS)] {
		if zeros >= 2 && b == 3 {
			zeros = 0
			continue // emulation prevention byte
		}
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
		s.nal = append(s.nal, b)
	}
	r := bitReader{b: s.nal}
	profile := r.bits(8)
	r.bits(16) // constraint flags, level
	r.ue()     // seq_parameter_set_id
	chroma := uint(1)
	separate := false
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = r.ue()
		if chroma > 3 {
			return 0, 0, false
		}
		if chroma == 3 {
			separate = r.bit() == 1
		}
		r.ue()            // bit_depth_luma_minus8
		r.ue()            // bit_depth_chroma_minus8
		r.bit()           // qpprime_y_zero_transform_bypass_flag
		if r.bit() == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if r.bit() == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					r.skipScalingList(size)
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.bit() // delta_pic_order_always_zero_flag
		r.se()  // offset_for_non_ref_pic
		r.se()  // offset_for_top_to_bottom_field
		n := r.ue()
		if n > 255 {
			return 0, 0, false
		}
		for range n {
			r.se()
		}
	}
	r.ue()  // max_num_ref_frames
	r.bit() // gaps_in_frame_num_value_allowed_flag
	wmbs := r.ue() + 1
	hmaps := r.ue() + 1
	frameMbsOnly := r.bit()
	if frameMbsOnly == 0 {
		r.bit() // mb_adaptive_frame_field_flag
	}
	r.bit() // direct_8x8_inference_flag
	var cl, cr, ct, cb uint
	if r.bit() == 1 {
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.bad || wmbs > maxPictureSide/16 || hmaps > maxPictureSide/16 {
		return 0, 0, false
	}
	// Crop units (ITU-T H.264 equations 7-19 to 7-22).
	ux, uy := uint(1), 2-frameMbsOnly
	if !separate && chroma != 0 {
		if chroma != 3 {
			ux = 2
		}
		if chroma == 1 {
			uy *= 2
		}
	}
	fw, fh := wmbs*16, hmaps*16*(2-frameMbsOnly)
	if (cl+cr)*ux >= fw || (ct+cb)*uy >= fh {
		return 0, 0, false
	}
	return int(fw - (cl+cr)*ux), int(fh - (ct+cb)*uy), true
}

// bitReader reads the bits of an RBSP, most significant first; reading
// past the end yields zeros and sets bad.
type bitReader struct {
	b   []byte
	pos int
	bad bool
}

func (r *bitReader) bit() uint {
	if r.pos >= 8*len(r.b) {
		r.bad = true
		return 0
	}
	v := uint(r.b[r.pos/8]>>(7-r.pos%8)) & 1
	r.pos++
	return v
}

func (r *bitReader) bits(n int) uint {
	var v uint
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

// ue reads an Exp-Golomb code (ITU-T H.264 section 9.1).
func (r *bitReader) ue() uint {
	zeros := 0
	for r.bit() == 0 {
		if r.bad || zeros == 31 {
			r.bad = true
			return 0
		}
		zeros++
	}
	return 1<<zeros - 1 + r.bits(zeros)
}

func (r *bitReader) se() int {
	v := r.ue()
	if v&1 == 1 {
		return int(v+1) / 2
	}
	return -int(v / 2)
}

// skipScalingList reads past a scaling_list() of size entries (ITU-T
// H.264 section 7.3.2.1.1.1).
func (r *bitReader) skipScalingList(size int) {
	last, next := 8, 8
	for range size {
		if next != 0 {
			next = (last + r.se() + 256) % 256
		}
		if next != 0 {
			last = next
		}
		if r.bad {
			return
		}
	}
}
