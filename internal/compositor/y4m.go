package compositor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Bounds on the pictures a decoder may announce: 8K sides, and no more
// pixels than two 4K pictures.
const (
	maxPictureSide   = 8192
	maxPicturePixels = 2 * 3840 * 2160
	maxY4MLine       = 1024
)

var errY4M = errors.New("compositor: bad yuv4mpegpipe stream")

// y4mReader reads the pictures of a yuv4mpegpipe stream of 4:2:0 frames,
// as `ffmpeg -f yuv4mpegpipe -pix_fmt yuv420p` writes it: one header line,
// then each frame as a FRAME line and its planes.
type y4mReader struct {
	r    *bufio.Reader
	w, h int
}

// newY4MReader reads the stream header.
func newY4MReader(r io.Reader) (*y4mReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	line, err := readY4MLine(br)
	if err != nil {
		return nil, err
	}
	w, h, err := parseY4MHeader(line)
	if err != nil {
		return nil, err
	}
	return &y4mReader{r: br, w: w, h: h}, nil
}

// parseY4MHeader returns the picture size of a stream header line (without
// its newline).
func parseY4MHeader(line []byte) (w, h int, err error) {
	rest, ok := bytes.CutPrefix(line, []byte("YUV4MPEG2"))
	if !ok {
		return 0, 0, fmt.Errorf("%w: no YUV4MPEG2 signature", errY4M)
	}
	for _, f := range bytes.Fields(rest) {
		switch f[0] {
		case 'W':
			w, err = strconv.Atoi(string(f[1:]))
		case 'H':
			h, err = strconv.Atoi(string(f[1:]))
		case 'C':
			// 4:2:0 in any chroma siting has the same planes; anything
			// else is not what the decoder was asked for.
			if !bytes.HasPrefix(f[1:], []byte("420")) {
				return 0, 0, fmt.Errorf("%w: colour space %q", errY4M, f[1:])
			}
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %q", errY4M, f)
		}
	}
	if w < 1 || h < 1 || w > maxPictureSide || h > maxPictureSide || w*h > maxPicturePixels {
		return 0, 0, fmt.Errorf("%w: picture size %dx%d", errY4M, w, h)
	}
	return w, h, nil
}

// next reads the next frame into p, which must be sized w×h.
func (y *y4mReader) next(p *picture) error {
	line, err := readY4MLine(y.r)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("FRAME")) {
		return fmt.Errorf("%w: no FRAME marker", errY4M)
	}
	if _, err := io.ReadFull(y.r, p.buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// readY4MLine returns the next line without its newline; the slice is
// valid until the next read.
func readY4MLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		b, err := r.ReadSlice('\n')
		if err == nil && line == nil {
			return b[:len(b)-1], nil
		}
		line = append(line, b...)
		if len(line) > maxY4MLine {
			return nil, fmt.Errorf("%w: line too long", errY4M)
		}
		if err == nil {
			return line[:len(line)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}
