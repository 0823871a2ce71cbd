package archive

import (
	"encoding/binary"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/parleyhq/parley/internal/sfu"
)

// mediaCodec is how one codec is recorded.
type mediaCodec struct {
	name string
	// codecID is the Matroska codec id; "" when the codec is not
	// recorded.
	codecID string
	// webm is true when WebM may hold the codec; otherwise the file is
	// Matroska (.mkv).
	webm bool
	// config, when set, builds the track's CodecPrivate from a keyframe
	// (H.264's parameter sets, AV1's sequence header), or reports that
	// the keyframe lacks what it needs: the file can only start once a
	// keyframe has brought it.
	config func(keyframe []byte) (videoConfig, bool)
	// block, when set, turns a rebuilt frame into the file's block and
	// tells from the bitstream whether it is a keyframe (the payload
	// header's word is not enough); false for a frame that is malformed.
	// It may reuse frame's memory.
	block func(frame []byte) (data []byte, keyframe, ok bool)
	// depacketizer returns a fresh depacketizer: one per frame, so that
	// no state of a broken frame leaks into the next.
	depacketizer func() rtp.Depacketizer
}

// needsConfig reports whether the track's CodecPrivate comes from the
// stream itself.
func (c mediaCodec) needsConfig() bool { return c.config != nil }

// videoConfig is what a keyframe tells of a video track.
type videoConfig struct {
	codecPrivate []byte
	// width and height are the picture's size by the bitstream, or 0
	// when it is not read from it (the announced size is used).
	width, height int
}

// videoCodecs are the video codecs Parley records.
var videoCodecs = map[sfu.Codec]mediaCodec{
	sfu.CodecVP8: {name: "VP8", codecID: "V_VP8", webm: true,
		depacketizer: func() rtp.Depacketizer { return &codecs.VP8Packet{} }},
	sfu.CodecVP9: {name: "VP9", codecID: "V_VP9", webm: true,
		depacketizer: func() rtp.Depacketizer { return &codecs.VP9Packet{} }},
	sfu.CodecH264: {name: "H264", codecID: "V_MPEG4/ISO/AVC", config: avcConfig,
		depacketizer: func() rtp.Depacketizer { return &codecs.H264Packet{IsAVC: true} }},
	// The AV1 depacketizer gives temporal units in the low-overhead
	// format, as Matroska wants them; av1Block drops what it leaves out
	// and finds the keyframes.
	sfu.CodecAV1: {name: "AV1", codecID: "V_AV1", webm: true, config: av1Config, block: av1Block,
		depacketizer: func() rtp.Depacketizer { return &codecs.AV1Depacketizer{} }},
}

// opusHead is the CodecPrivate of an Opus track (RFC 7845 section 5.1):
// WebRTC's Opus is 48 kHz, and is decoded as stereo, which also plays
// mono streams; no pre-skip, since RTP carries no encoder delay.
func opusHead() []byte {
	b := []byte("OpusHead")
	b = append(b, 1, 2)                            // version, channels
	b = binary.LittleEndian.AppendUint16(b, 0)     // pre-skip
	b = binary.LittleEndian.AppendUint32(b, 48000) // input sample rate
	b = binary.LittleEndian.AppendUint16(b, 0)     // output gain
	return append(b, 0)                            // channel mapping family
}

// avcNALUs splits a frame in AVC form (4-byte big-endian lengths) into
// its NAL units; a truncated tail is ignored.
func avcNALUs(frame []byte) [][]byte {
	var out [][]byte
	for len(frame) >= 4 {
		n := int(binary.BigEndian.Uint32(frame))
		frame = frame[4:]
		if n <= 0 || n > len(frame) {
			break
		}
		out = append(out, frame[:n])
		frame = frame[n:]
	}
	return out
}

// avcConfig builds the AVCDecoderConfigurationRecord (ISO 14496-15
// 5.2.4.1) of H.264's CodecPrivate from the first SPS and PPS of a frame,
// or reports that the frame has none.
func avcConfig(frame []byte) (videoConfig, bool) {
	var sps, pps []byte
	for _, n := range avcNALUs(frame) {
		switch n[0] & 0x1F {
		case 7:
			if sps == nil && len(n) >= 4 {
				sps = n
			}
		case 8:
			if pps == nil {
				pps = n
			}
		}
	}
	if sps == nil || pps == nil {
		return videoConfig{}, false
	}
	b := []byte{1, sps[1], sps[2], sps[3], 0xFF, 0xE1} // version, profile, compatibility, level, 4-byte lengths, 1 SPS
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	return videoConfig{codecPrivate: append(b, pps...)}, true
}
