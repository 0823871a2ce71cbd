package sfu

import "strings"

// Codec identifies an RTP payload format by its MIME type.
type Codec int

// Payload formats the SFU knows how to inspect.
const (
	CodecUnknown Codec = iota
	CodecVP8
	CodecVP9
	CodecH264
	CodecAV1
	CodecOpus
)

var codecNames = [...]string{
	CodecUnknown: "unknown",
	CodecVP8:     "VP8",
	CodecVP9:     "VP9",
	CodecH264:    "H264",
	CodecAV1:     "AV1",
	CodecOpus:    "opus",
}

// String returns the MIME subtype of c, or "unknown".
func (c Codec) String() string {
	if c < 0 || int(c) >= len(codecNames) {
		return codecNames[CodecUnknown]
	}
	return codecNames[c]
}

// CodecFromMime returns the codec of a MIME type such as "video/VP8" or
// "audio/opus" (compared case-insensitively, as SDP does), or CodecUnknown.
func CodecFromMime(mime string) Codec {
	typ, sub, ok := strings.Cut(mime, "/")
	if !ok {
		return CodecUnknown
	}
	if strings.EqualFold(typ, "audio") {
		if strings.EqualFold(sub, "opus") {
			return CodecOpus
		}
		return CodecUnknown
	}
	if !strings.EqualFold(typ, "video") {
		return CodecUnknown
	}
	for _, c := range [...]Codec{CodecVP8, CodecVP9, CodecH264, CodecAV1} {
		if strings.EqualFold(sub, codecNames[c]) {
			return c
		}
	}
	return CodecUnknown
}

// IsKeyframe reports whether payload (an RTP payload, without the RTP
// header) carries the first packet of a keyframe: the packet a subscriber
// can start decoding from. For H.264, whose packets only tell that they
// belong to a keyframe, any packet starting an SPS or an IDR slice counts,
// so that the parameter sets browsers send ahead of the IDR slice open the
// keyframe. Opus has no keyframes: every non-empty packet decodes on its
// own, so every one is reported as a starting point. Malformed or
// truncated payloads report false; payload is only read, within its
// length, whatever it holds.
func IsKeyframe(c Codec, payload []byte) bool {
	switch c {
	case CodecVP8:
		return isVP8Keyframe(payload)
	case CodecVP9:
		return isVP9Keyframe(payload)
	case CodecH264:
		return isH264Keyframe(payload)
	case CodecAV1:
		return isAV1Keyframe(payload)
	case CodecOpus:
		return len(payload) > 0
	}
	return false
}

// isVP8Keyframe parses the payload descriptor of RFC 7741 section 4.2:
//
//	   0 1 2 3 4 5 6 7
//	  +-+-+-+-+-+-+-+-+
//	  |X|R|N|S|R| PID |
//	  +-+-+-+-+-+-+-+-+
//	X:|I|L|T|K| RSV   |
//	  +-+-+-+-+-+-+-+-+
//	I:|M| PictureID   |  (a second PictureID byte when M)
//	  +-+-+-+-+-+-+-+-+
//	L:|   TL0PICIDX   |
//	  +-+-+-+-+-+-+-+-+
//	T/K:|TID|Y| KEYIDX|
//	  +-+-+-+-+-+-+-+-+
//
// A frame starts where S is set and PID is 0; there the VP8 payload header
// follows, whose inverse key frame bit P (bit 0 of its first byte, RFC 7741
// section 4.3) is 0 for a key frame.
func isVP8Keyframe(p []byte) bool {
	i, ok := vp8Header(p)
	return ok && p[i]&0x01 == 0
}

// vp8Header returns where the VP8 payload header starts in a packet that
// starts a frame, skipping the payload descriptor; false for any other
// packet, or one too short to hold the header's first byte.
func vp8Header(p []byte) (int, bool) {
	if len(p) < 1 {
		return 0, false
	}
	b := p[0]
	if b&0x10 == 0 || b&0x07 != 0 {
		return 0, false // not the start of partition 0, so not of a frame
	}
	i := 1
	if b&0x80 != 0 {
		if len(p) <= i {
			return 0, false
		}
		x := p[i]
		i++
		if x&0x80 != 0 { // I: PictureID, 15 bits when M is set
			if len(p) <= i {
				return 0, false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K share one byte
			i++
		}
	}
	return i, len(p) > i
}

// VP8KeyframeSize returns the picture size a VP8 keyframe's first packet
// announces (RFC 6386 section 9.1: after the 3-byte frame tag, the start
// code 9d 01 2a, then 14-bit width and height, little-endian, each under
// 2 bits of scaling); false for any other packet, or a size of zero.
func VP8KeyframeSize(p []byte) (width, height int, ok bool) {
	i, ok := vp8Header(p)
	if !ok || p[i]&0x01 != 0 || len(p) < i+10 || p[i+3] != 0x9d || p[i+4] != 0x01 || p[i+5] != 0x2a {
		return 0, 0, false
	}
	w := int(p[i+6]) | int(p[i+7])<<8
	h := int(p[i+8]) | int(p[i+9])<<8
	w, h = w&0x3fff, h&0x3fff
	return w, h, w > 0 && h > 0
}

// isVP9Keyframe parses the payload descriptor of RFC 9628 section 4.2,
// which starts with
//
//	 0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+
//	|I|P|L|F|B|E|V|Z|
//	+-+-+-+-+-+-+-+-+
//
// A keyframe starts in the packet that begins a frame (B) which is not
// inter-picture predicted (P clear) and, when layer indices are present,
// belongs to the base spatial layer (SID 0): higher spatial layers of a
// keyframe depend on the base one. The rest of the descriptor (picture id,
// layer indices, scalability structure) must be complete and followed by
// some payload, so that a truncated descriptor never passes.
func isVP9Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b := p[0]
	if b&0x08 == 0 || b&0x40 != 0 {
		return false
	}
	flexible := b&0x10 != 0
	i := 1
	if b&0x80 != 0 { // I: picture id, 15 bits when M is set
		if len(p) <= i {
			return false
		}
		if p[i]&0x80 != 0 {
			i++
		}
		i++
	}
	if b&0x20 != 0 { // L: TID|U|SID|D
		if len(p) <= i {
			return false
		}
		if p[i]>>1&0x07 != 0 {
			return false
		}
		i++
		if !flexible {
			i++ // TL0PICIDX
		}
	}
	// Reference indices (P_DIFF) are only present when P is set, and it is not.
	if b&0x02 != 0 {
		var ok bool
		if i, ok = skipVP9SS(p, i); !ok {
			return false
		}
	}
	return len(p) > i
}

// skipVP9SS returns the index after the scalability structure at p[i:]
// (RFC 9628 section 4.2.1), or false when p ends inside it.
func skipVP9SS(p []byte, i int) (int, bool) {
	if len(p) <= i {
		return i, false
	}
	ss := p[i]
	i++
	if ss&0x10 != 0 { // Y: a 16-bit width and height per spatial layer
		i += 4 * (int(ss>>5) + 1)
	}
	if ss&0x08 != 0 { // G: picture group description
		if len(p) <= i {
			return i, false
		}
		n := int(p[i])
		i++
		for range n {
			if len(p) <= i {
				return i, false
			}
			i += 1 + int(p[i]>>2&0x03) // TID|U|R|-|- then R P_DIFFs
		}
	}
	return i, len(p) >= i
}

// H.264 NAL unit types of RFC 6184 and ITU-T H.264 table 7-1.
const (
	h264IDR   = 5
	h264SPS   = 7
	h264STAPA = 24
	h264FUA   = 28
)

// isH264Keyframe looks for an IDR slice or a sequence parameter set at the
// start of a single NAL unit packet, in any unit of a STAP-A, or at the
// start of an FU-A (RFC 6184 section 5). Interleaved-mode packets (STAP-B,
// MTAP, FU-B) are not used in WebRTC (packetization-mode 0 and 1 only).
func isH264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case h264IDR, h264SPS:
		return true
	case h264STAPA:
		// Each aggregated unit is a 16-bit size then the unit itself; a
		// size pointing past the end means a malformed packet.
		for i := 1; i+2 <= len(p); {
			n := int(p[i])<<8 | int(p[i+1])
			i += 2
			if n == 0 || n > len(p)-i {
				return false
			}
			if t := p[i] & 0x1f; t == h264IDR || t == h264SPS {
				return true
			}
			i += n
		}
	case h264FUA:
		// FU header: S|E|R|Type.
		if len(p) < 2 || p[1]&0x80 == 0 {
			return false
		}
		t := p[1] & 0x1f
		return t == h264IDR || t == h264SPS
	}
	return false
}

// isAV1Keyframe reads the aggregation header of the AV1 RTP payload format
// (section 4.4):
//
//	 0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+
//	|Z|Y| W |N|-|-|-|
//	+-+-+-+-+-+-+-+-+
//
// N is set on the first packet of a coded video sequence, which starts with
// a key frame; such a packet cannot continue an earlier OBU, so Z must be
// clear, and it carries at least one byte of OBU data.
func isAV1Keyframe(p []byte) bool {
	return len(p) >= 2 && p[0]&0x08 != 0 && p[0]&0x80 == 0
}
