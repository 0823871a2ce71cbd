package compositor

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// drawInput is an input showing p, for painting tests without decoders.
func drawInput(c *Compositor, id string, p *picture) *input {
	in := &input{c: c, id: id, video: &feed{pic: &pictureSlot{}}}
	if p != nil {
		in.video.pic.setUp(true, time.Now())
		in.video.pic.swap(p)
	}
	return in
}

// solid returns a w×h picture of luma y (and neutral chroma).
func solid(w, h int, y byte) *picture {
	p := newPicture(w, h)
	fillBytes(p.y, y)
	fillBytes(p.u, blackC)
	fillBytes(p.v, blackC)
	return p
}

// columns returns a w×h picture whose luma is lum(x).
func columns(w, h int, lum func(x int) byte) *picture {
	p := solid(w, h, 0)
	for y := range h {
		for x := range w {
			p.y[y*w+x] = lum(x)
		}
	}
	return p
}

// paint composes boxes (each showing its picture) on a w×h canvas.
func paint(w, h int, boxes []Box, pics []*picture) *picture {
	c := &Compositor{canvas: newCanvas(w, h)}
	sc := &scene{}
	for i, b := range boxes {
		if p := newPlacement(drawInput(c, fmt.Sprint(i), pics[i]), b); p != nil {
			sc.placed = append(sc.placed, p)
		}
	}
	dst := newPicture(w, h)
	c.canvas.compose(dst, sc, time.Now())
	return dst
}

// row renders one luma row of p, a letter per pixel: '.' black, '#' 200,
// 'a' 100, '?' anything else.
func row(p *picture, y int) string {
	var b strings.Builder
	for x := range p.w {
		switch v := p.y[y*p.w+x]; {
		case v == blackY:
			b.WriteByte('.')
		case v == 200:
			b.WriteByte('#')
		case v == 100:
			b.WriteByte('a')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

func TestComposeFits(t *testing.T) {
	tests := []struct {
		name  string
		box   Box
		pic   *picture
		rows  map[int]string // luma rows of a 16×8 canvas
		chrom bool
	}{
		{
			name: "contain letterboxes a square in a wide box",
			box:  Box{X: 0, Y: 0, W: 16, H: 8, Fit: FitContain},
			pic:  solid(4, 4, 200),
			rows: map[int]string{0: "....########....", 7: "....########...."},
		},
		{
			name: "contain letterboxes a wide picture in a tall box",
			box:  Box{X: 4, Y: 0, W: 4, H: 8, Fit: FitContain},
			pic:  solid(8, 4, 200),
			rows: map[int]string{1: "................", 2: "....####........", 3: "....####........", 4: "................"},
		},
		{
			name: "cover shows the middle of a wide picture",
			box:  Box{X: 0, Y: 0, W: 8, H: 8, Fit: FitCover},
			pic:  columns(24, 8, func(x int) byte { return map[bool]byte{true: 200, false: 100}[x >= 8 && x < 16] }),
			rows: map[int]string{0: "########........", 7: "########........"},
		},
		{
			name: "unknown fit is cover",
			box:  Box{X: 8, Y: 0, W: 8, H: 8, Fit: "stretch"},
			pic:  columns(24, 8, func(x int) byte { return map[bool]byte{true: 200, false: 100}[x >= 8 && x < 16] }),
			rows: map[int]string{3: "........########"},
		},
		{
			name: "same size copies",
			box:  Box{X: 2, Y: 2, W: 4, H: 4},
			pic:  columns(4, 4, func(x int) byte { return []byte{100, 200, 100, 200}[x] }),
			rows: map[int]string{1: "................", 2: "..a#a#..........", 5: "..a#a#..........", 6: "................"},
		},
		{
			name: "half outside is cut off",
			box:  Box{X: -4, Y: -4, W: 8, H: 8},
			pic:  solid(8, 8, 200),
			rows: map[int]string{0: "####............", 3: "####............", 4: "................"},
		},
		{
			name: "odd coordinates round down to even",
			box:  Box{X: 3, Y: 1, W: 5, H: 3},
			pic:  solid(2, 2, 200),
			rows: map[int]string{0: "..####..........", 1: "..####..........", 2: "................"},
		},
		{
			name: "no picture yet: black box",
			box:  Box{X: 0, Y: 0, W: 8, H: 8},
			rows: map[int]string{0: "................"},
		},
		{
			name: "entirely outside",
			box:  Box{X: 100, Y: 100, W: 8, H: 8},
			pic:  solid(2, 2, 200),
			rows: map[int]string{0: "................", 7: "................"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := paint(16, 8, []Box{tt.box}, []*picture{tt.pic})
			for y, want := range tt.rows {
				if r := row(got, y); r != want {
					t.Errorf("row %d = %s, want %s", y, r, want)
				}
			}
			for i, v := range got.u {
				if v != blackC || got.v[i] != blackC {
					t.Fatalf("chroma %d: %d,%d, want neutral", i, v, got.v[i])
				}
			}
		})
	}
}

// Boxes are painted in increasing Z, whatever their order.
func TestComposeZOrder(t *testing.T) {
	c := &Compositor{canvas: newCanvas(16, 8)}
	top := drawInput(c, "top", solid(4, 4, 200))
	bottom := drawInput(c, "bottom", solid(4, 4, 100))
	sc := &scene{placed: []*placement{
		newPlacement(top, Box{X: 4, Y: 0, W: 8, H: 8, Z: 2}),
		newPlacement(bottom, Box{X: 0, Y: 0, W: 8, H: 8, Z: 1}),
	}}
	sortPlacements(sc.placed)
	dst := newPicture(16, 8)
	c.canvas.compose(dst, sc, time.Now())
	if r := row(dst, 4); r != "aaaa########...." {
		t.Errorf("row = %s", r)
	}
}

// Scaling keeps a smooth ramp smooth and in range, both ways.
func TestComposeScalesRamp(t *testing.T) {
	ramp := columns(64, 64, func(x int) byte { return byte(16 + 3*x) })
	for _, w := range []int{16, 30, 64, 128, 250} {
		got := paint(256, 256, []Box{{X: 0, Y: 0, W: w, H: w, Fit: FitCover}}, []*picture{ramp})
		line := got.y[w/2*256:]
		prev := 0
		for x := range w {
			v := int(line[x])
			if v < prev {
				t.Fatalf("width %d: x %d: %d after %d", w, x, v, prev)
			}
			prev = v
		}
		if first, last := int(line[0]), int(line[w-1]); first > 40 || last < 180 {
			t.Errorf("width %d: ramp from %d to %d", w, first, last)
		}
	}
}

// Odd picture sizes (their chroma planes rounded up) and tiny ones paint
// without trouble.
func TestComposeOddSizes(t *testing.T) {
	for _, s := range [][2]int{{1, 1}, {3, 5}, {17, 9}, {641, 481}} {
		got := paint(64, 48, []Box{{X: 2, Y: 2, W: 30, H: 20}, {X: 30, Y: 20, W: 40, H: 40, Fit: FitContain}},
			[]*picture{solid(s[0], s[1], 200), solid(s[0], s[1], 200)})
		if v := got.y[12*64+16]; v != 200 {
			t.Errorf("%dx%d: centre %d", s[0], s[1], v)
		}
	}
}

// A picture whose decoder died stays for a second, then goes.
func TestPictureGrace(t *testing.T) {
	var s pictureSlot
	t0 := time.Now()
	s.setUp(true, t0)
	s.swap(solid(2, 2, 200))
	check := func(at time.Duration, want bool) {
		t.Helper()
		got := s.lock(t0.Add(at)) != nil
		s.unlock()
		if got != want {
			t.Errorf("at %v: shown %v, want %v", at, got, want)
		}
	}
	check(time.Hour, true) // a live decoder's picture stays
	s.setUp(false, t0.Add(10*time.Second))
	check(10*time.Second+pictureGrace/2, true)
	check(10*time.Second+2*pictureGrace, false)
	s.setUp(true, t0.Add(20*time.Second)) // a new decoder: the old picture stays off
	check(20*time.Second, false)
	s.swap(solid(2, 2, 200))
	check(20*time.Second, true)
}
