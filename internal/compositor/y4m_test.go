package compositor

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestY4MHeader(t *testing.T) {
	tests := []struct {
		line string
		w, h int
		ok   bool
	}{
		{"YUV4MPEG2 W320 H240 F25:1 Ip A0:0 C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED", 320, 240, true},
		{"YUV4MPEG2 W1 H1", 1, 1, true},
		{"YUV4MPEG2 W641 H481 C420mpeg2", 641, 481, true},
		{"YUV4MPEG2 W320 H240 C444", 0, 0, false},
		{"YUV4MPEG2 W320", 0, 0, false},
		{"YUV4MPEG2 W0 H240", 0, 0, false},
		{"YUV4MPEG2 W-2 H240", 0, 0, false},
		{"YUV4MPEG2 W99999 H2", 0, 0, false},
		{"YUV4MPEG2 W8192 H8192", 0, 0, false},
		{"YUV4MPEG2 Wx H2", 0, 0, false},
		{"RIFF W320 H240", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		w, h, err := parseY4MHeader([]byte(tt.line))
		if (err == nil) != tt.ok || w != tt.w || h != tt.h {
			t.Errorf("%q: %dx%d, %v; want %dx%d ok=%v", tt.line, w, h, err, tt.w, tt.h, tt.ok)
		}
	}
}

func TestY4MReader(t *testing.T) {
	var stream bytes.Buffer
	stream.WriteString("YUV4MPEG2 W3 H3 F25:1 C420jpeg\n")
	size := frameSize(3, 3) // 9 + 2*4
	for i := range 3 {
		stream.WriteString("FRAME\n")
		if i == 1 {
			stream.Truncate(stream.Len() - 1)
			stream.WriteString(" Ixyz\n") // frame parameters are allowed
		}
		stream.Write(bytes.Repeat([]byte{byte(10 + i)}, size))
	}
	stream.WriteString("FRAME\n")
	stream.Write([]byte{1, 2}) // cut short

	y, err := newY4MReader(&stream)
	if err != nil {
		t.Fatal(err)
	}
	if y.w != 3 || y.h != 3 {
		t.Fatalf("size %dx%d", y.w, y.h)
	}
	p := newPicture(3, 3)
	for i := range 3 {
		if err := y.next(p); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if p.y[0] != byte(10+i) || p.v[3] != byte(10+i) {
			t.Fatalf("frame %d: %v", i, p.buf)
		}
	}
	if err := y.next(p); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut frame: %v", err)
	}
	if err := y.next(p); !errors.Is(err, io.EOF) {
		t.Fatalf("after the end: %v", err)
	}
}

func TestY4MReaderBad(t *testing.T) {
	for _, s := range []string{
		"",
		"YUV4MPEG2 W2 H2", // no newline: cut header
		"YUV4MPEG2 W2 H2 " + strings.Repeat("X", 5000) + "\n", // endless header
		"YUV4MPEG2 W2 H2\nFRAMX\n" + strings.Repeat("a", 6),
	} {
		y, err := newY4MReader(strings.NewReader(s))
		if err == nil {
			err = y.next(newPicture(y.w, y.h))
		}
		if err == nil {
			t.Errorf("%.40q: no error", s)
		}
	}
}

func FuzzY4M(f *testing.F) {
	f.Add([]byte("YUV4MPEG2 W2 H2 C420jpeg\nFRAME\n123456FRAME\n"))
	f.Add([]byte("YUV4MPEG2 W1 H1\nFRAME Ix\n123"))
	f.Fuzz(func(t *testing.T, b []byte) {
		y, err := newY4MReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		p := newPicture(y.w, y.h)
		for range 4 {
			if y.next(p) != nil {
				return
			}
		}
	})
}
