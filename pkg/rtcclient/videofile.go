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
	// next returns the next frame and how long it shows: the gap between
	// its RTP timestamp and the next frame's.
	next() ([]byte, time.Duration, error)
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

func (v *ivfFile) next() ([]byte, time.Duration, error) {
	for range 2 {
		frame, _, err := v.r.ParseNextFrame()
		if err == nil {
			return frame, v.frame, nil
		}
		if !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		if _, err := v.f.Seek(0, io.SeekStart); err != nil {
			return nil, 0, err
		}
		if v.r, _, err = ivfreader.NewWith(v.f); err != nil {
			return nil, 0, err
		}
	}
	return nil, 0, errors.New("rtcclient: IVF file without frames")
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

func (h *h264File) next() ([]byte, time.Duration, error) {
	var au []byte
	picture := false
	rewound := false
	for {
		nal := h.pending
		h.pending = nil
		if nal == nil {
			var err error
			nal, err = h.r.NextNAL()
			if errors.Is(err, io.EOF) {
				if picture {
					return au, h.frame, nil
				}
				// Units after the last picture (end of stream) are
				// dropped; a file with no picture at all is an error.
				if rewound {
					return nil, 0, errors.New("rtcclient: H.264 stream without pictures")
				}
				if err := h.rewind(); err != nil {
					return nil, 0, err
				}
				au, rewound = au[:0], true
				continue
			}
			if err != nil {
				return nil, 0, err
			}
		}
		if picture && startsAccessUnit(nal) {
			h.pending = nal
			return au, h.frame, nil
		}
		au = append(au, 0, 0, 0, 1)
		au = append(au, nal.Data...)
		if isSlice(nal.UnitType) {
			picture = true
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
