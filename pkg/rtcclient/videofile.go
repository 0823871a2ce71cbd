package rtcclient

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// videoFile yields the frames of an encoded video file in a loop: at the
// end of the file it starts over, so a short clip makes an endless stream.
type videoFile interface {
	// next returns the next frame, how long it shows (the gap between its
	// RTP timestamp and the next frame's) and whether it is a keyframe.
	next() ([]byte, time.Duration, bool, error)
	// mimeType is the codec of the frames.
	mimeType() string
	Close() error
}

// openVideoFile opens an IVF file (VP8, VP9 or AV1) or, by its extension
// .h264 or .264, an H.264 Annex-B stream. Annex-B carries no timestamps,
// so an H.264 file plays at fps frames per second.
func openVideoFile(path string, fps int) (videoFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var v videoFile
	switch strings.ToLower(filepath.Ext(path)) {
	case ".h264", ".264":
		v, err = newH264File(f, fps)
	default:
		v, err = newIVFFile(f, fps)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("rtcclient: %s: %w", path, err)
	}
	return v, nil
}

// ivfFile plays an IVF file, one IVF frame per sample.
type ivfFile struct {
	f     *os.File
	r     *ivfreader.IVFReader
	mime  string
	frame time.Duration
}

func newIVFFile(f *os.File, fps int) (*ivfFile, error) {
	r, hdr, err := ivfreader.NewWith(f)
	if err != nil {
		return nil, err
	}
	v := &ivfFile{f: f, r: r}
	switch hdr.FourCC {
	case "VP80":
		v.mime = webrtc.MimeTypeVP8
	case "VP90":
		v.mime = webrtc.MimeTypeVP9
	case "AV01":
		v.mime = webrtc.MimeTypeAV1
	default:
		return nil, fmt.Errorf("unsupported IVF codec %q", hdr.FourCC)
	}
	// IVF writers (libvpx, libaom, ffmpeg) set the time base to one frame
	// and count frames in it. A time base that cannot be one frame (a
	// millisecond clock, say) says nothing of the rate: fall back to fps.
	v.frame = time.Duration(uint64(time.Second) * uint64(hdr.TimebaseNumerator) / uint64(hdr.TimebaseDenominator))
	if v.frame < 5*time.Millisecond || v.frame > time.Second {
		v.frame = time.Second / time.Duration(fps)
	}
	return v, nil
}

func (v *ivfFile) mimeType() string { return v.mime }

func (v *ivfFile) Close() error { return v.f.Close() }

func (v *ivfFile) next() ([]byte, time.Duration, bool, error) {
	for range 2 {
		frame, _, err := v.r.ParseNextFrame()
		if err == nil {
			return frame, v.frame, isKeyframe(v.mime, frame), nil
		}
		if !errors.Is(err, io.EOF) {
			return nil, 0, false, err
		}
		if _, err := v.f.Seek(0, io.SeekStart); err != nil {
			return nil, 0, false, err
		}
		if v.r, _, err = ivfreader.NewWith(v.f); err != nil {
			return nil, 0, false, err
		}
	}
	return nil, 0, false, errors.New("rtcclient: IVF file without frames")
}

// maxKeyframeSkip bounds how many frames a keyframe request skips: more
// than a file of a minute at 60 fps holds between keyframes.
const maxKeyframeSkip = 4096

// isKeyframe tells from a whole frame (not an RTP payload) whether a
// decoder can start on it.
func isKeyframe(mime string, f []byte) bool {
	if len(f) == 0 {
		return false
	}
	switch mime {
	case webrtc.MimeTypeVP8:
		// Frame tag (RFC 6386 section 9.1): bit 0 is 0 for a key frame.
		return f[0]&0x01 == 0
	case webrtc.MimeTypeVP9:
		// Uncompressed header: frame_marker (2 bits), profile (2 bits,
		// then a reserved bit in profile 3), show_existing_frame,
		// frame_type (0 for a key frame).
		b := f[0]
		if b>>6 != 2 {
			return false
		}
		profile := (b>>5)&1 | (b>>4)&1<<1
		shift := 3
		if profile == 3 {
			shift = 2
		}
		showExisting := b>>shift&1 == 1
		return !showExisting && b>>(shift-1)&1 == 0
	case webrtc.MimeTypeAV1:
		// A temporal unit that opens with a sequence header: encoders
		// repeat it at each key frame.
		return (f[0]>>3)&0x0f == 1 || len(f) > 2 && (f[0]>>3)&0x0f == 2 && (f[2]>>3)&0x0f == 1
	}
	return false
}

// h264File plays an H.264 Annex-B stream, one access unit (a picture with
// the parameter sets ahead of it) per sample, as browsers send it: the
// payloader then packs SPS and PPS with the IDR slice under one RTP
// timestamp, and the marker bit closes each picture. SEI units are left
// out, as h264reader does by default.
type h264File struct {
	f       *os.File
	r       *h264reader.H264Reader
	pending *h264reader.NAL // the unit that ended the previous access unit
	frame   time.Duration
}

func newH264File(f *os.File, fps int) (*h264File, error) {
	r, err := h264reader.NewReader(f)
	if err != nil {
		return nil, err
	}
	// Read the first unit now, so that a file that is not Annex-B fails
	// the publish instead of stopping the video later without a word.
	nal, err := r.NextNAL()
	if err != nil {
		return nil, fmt.Errorf("not an H.264 Annex-B stream: %w", err)
	}
	return &h264File{f: f, r: r, pending: nal, frame: time.Second / time.Duration(fps)}, nil
}

func (h *h264File) mimeType() string { return webrtc.MimeTypeH264 }

func (h *h264File) Close() error { return h.f.Close() }

func (h *h264File) next() ([]byte, time.Duration, bool, error) {
	var au []byte
	picture, idr := false, false
	rewound := false
	for {
		nal := h.pending
		h.pending = nil
		if nal == nil {
			var err error
			nal, err = h.r.NextNAL()
			if errors.Is(err, io.EOF) {
				if picture {
					return au, h.frame, idr, nil
				}
				// Units after the last picture (end of stream) are
				// dropped; a file with no picture at all is an error.
				if rewound {
					return nil, 0, false, errors.New("rtcclient: H.264 stream without pictures")
				}
				if err := h.rewind(); err != nil {
					return nil, 0, false, err
				}
				au, rewound = au[:0], true
				continue
			}
			if err != nil {
				return nil, 0, false, err
			}
		}
		if picture && startsAccessUnit(nal) {
			h.pending = nal
			return au, h.frame, idr, nil
		}
		au = append(au, 0, 0, 0, 1)
		au = append(au, nal.Data...)
		if isSlice(nal.UnitType) {
			picture = true
		}
		if nal.UnitType == h264reader.NalUnitTypeCodedSliceIdr {
			idr = true
		}
	}
}

func (h *h264File) rewind() error {
	if _, err := h.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r, err := h264reader.NewReader(h.f)
	if err != nil {
		return err
	}
	h.r = r
	return nil
}

func isSlice(t h264reader.NalUnitType) bool {
	return t == h264reader.NalUnitTypeCodedSliceNonIdr || t == h264reader.NalUnitTypeCodedSliceIdr ||
		t == h264reader.NalUnitTypeCodedSliceDataPartitionA
}

// startsAccessUnit reports whether nal, following a picture's slices,
// opens the next access unit (ITU-T H.264 section 7.4.1.2.3): a delimiter,
// parameter set or SEI, or the first slice of another picture. A picture's
// first slice starts at macroblock 0, whose ue(v) code is a single 1 bit.
func startsAccessUnit(nal *h264reader.NAL) bool {
	switch t := nal.UnitType; {
	case t == h264reader.NalUnitTypeAUD, t == h264reader.NalUnitTypeSPS, t == h264reader.NalUnitTypePPS,
		t == h264reader.NalUnitTypeSEI, t >= 14 && t <= 18:
		return true
	case isSlice(t):
		return len(nal.Data) > 1 && nal.Data[1]&0x80 != 0
	}
	return false
}
