package compositor

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// maxCoord bounds the coordinates of a box, so that nothing overflows.
const maxCoord = 1 << 20

// scene is what the clock paints and mixes; Set replaces it whole.
type scene struct {
	placed []*placement // in painting order
	mixed  []*input
}

// canvas paints scenes into w×h frames.
type canvas struct {
	w, h   int
	blackY []byte // one row of black, to copy from
	blackC []byte
}

func newCanvas(w, h int) *canvas {
	cv := &canvas{w: w, h: h, blackY: make([]byte, w), blackC: make([]byte, w/2)}
	fillBytes(cv.blackY, blackY)
	fillBytes(cv.blackC, blackC)
	return cv
}

// compose paints sc into dst, a w×h picture: black, then each placed
// input's latest picture in its box. It allocates nothing once the
// placements have met their sources' picture sizes.
func (cv *canvas) compose(dst *picture, sc *scene, now time.Time) {
	cv.fill(dst, 0, 0, cv.w, cv.h)
	for _, p := range sc.placed {
		cv.fill(dst, p.clip.x0, p.clip.y0, p.clip.x1, p.clip.y1)
		slot := p.in.pictures()
		if slot == nil {
			continue
		}
		if src := slot.lock(now); src != nil {
			p.draw(dst, src)
		}
		slot.unlock()
	}
}

// fill paints the even-aligned rectangle [x0,x1)×[y0,y1) of dst black.
func (cv *canvas) fill(dst *picture, x0, y0, x1, y1 int) {
	if x0 >= x1 || y0 >= y1 {
		return
	}
	for y := y0; y < y1; y++ {
		copy(dst.y[y*dst.w+x0:y*dst.w+x1], cv.blackY)
	}
	for y := y0 / 2; y < y1/2; y++ {
		copy(dst.u[y*dst.cw+x0/2:y*dst.cw+x1/2], cv.blackC)
		copy(dst.v[y*dst.cw+x0/2:y*dst.cw+x1/2], cv.blackC)
	}
}

// rect is a half-open rectangle [x0,x1)×[y0,y1).
type rect struct{ x0, y0, x1, y1 int }

// placement is an input's box on the canvas, with the scaling tables for
// its source's picture size, which only the clock uses.
type placement struct {
	in   *input
	box  Box
	clip rect // the box's part inside the canvas

	srcW, srcH int // the picture size the tables are for
	luma, chr  plan
}

// newPlacement normalises box for the canvas of in's compositor, or
// returns nil when it shows nothing. Its tables are made by the clock at
// its first picture: they belong to the clock alone.
func newPlacement(in *input, box Box) *placement {
	cv := in.c.canvas
	if cv == nil || box.W < 2 || box.H < 2 || box.W > maxCoord || box.H > maxCoord ||
		box.X < -maxCoord || box.X > maxCoord || box.Y < -maxCoord || box.Y > maxCoord {
		return nil
	}
	box.X, box.Y = floorEven(box.X), floorEven(box.Y)
	box.W, box.H = box.W&^1, box.H&^1
	if box.Fit != FitContain {
		box.Fit = FitCover
	}
	box.StreamID = in.id
	p := &placement{in: in, box: box, clip: rect{
		x0: max(box.X, 0), y0: max(box.Y, 0),
		x1: min(box.X+box.W, cv.w), y1: min(box.Y+box.H, cv.h),
	}}
	if p.clip.x0 >= p.clip.x1 || p.clip.y0 >= p.clip.y1 {
		return nil
	}
	return p
}

func floorEven(v int) int { return v &^ 1 }

// sortPlacements puts ps in painting order: increasing Z, and the order
// of the inputs for equal Z.
func sortPlacements(ps []*placement) {
	slices.SortStableFunc(ps, func(a, b *placement) int { return cmp.Compare(a.box.Z, b.box.Z) })
}

// draw scales src into the box on dst.
func (p *placement) draw(dst, src *picture) {
	if src.w != p.srcW || src.h != p.srcH {
		p.prepare(src.w, src.h, dst.w, dst.h)
	}
	p.luma.run(dst.y, dst.w, src.y, src.w)
	p.chr.run(dst.u, dst.cw, src.u, src.cw)
	p.chr.run(dst.v, dst.cw, src.v, src.cw)
}

// prepare computes the scaling tables for a sw×sh picture on a cw×ch
// canvas.
func (p *placement) prepare(sw, sh, cw, ch int) {
	p.srcW, p.srcH = sw, sh
	b := p.box
	// dst is where the picture lands (unclipped), region the part of the
	// picture shown there.
	dst := rect{b.X, b.Y, b.X + b.W, b.Y + b.H}
	rx, ry, rw, rh := 0.0, 0.0, float64(sw), float64(sh)
	wider := sw*b.H > sh*b.W // the picture is wider than the box
	if b.Fit == FitContain {
		dw, dh := b.W, b.H
		if wider {
			dh = max(2, roundEven(float64(b.W)*float64(sh)/float64(sw)))
		} else {
			dw = max(2, roundEven(float64(b.H)*float64(sw)/float64(sh)))
		}
		dst.x0 += floorEven((b.W - dw) / 2)
		dst.y0 += floorEven((b.H - dh) / 2)
		dst.x1, dst.y1 = dst.x0+dw, dst.y0+dh
	} else if wider {
		rw = float64(sh) * float64(b.W) / float64(b.H)
		rx = (float64(sw) - rw) / 2
	} else {
		rh = float64(sw) * float64(b.H) / float64(b.W)
		ry = (float64(sh) - rh) / 2
	}
	clip := rect{max(dst.x0, p.clip.x0), max(dst.y0, p.clip.y0), min(dst.x1, p.clip.x1), min(dst.y1, p.clip.y1)}
	if clip.x0 >= clip.x1 || clip.y0 >= clip.y1 {
		p.luma, p.chr = plan{}, plan{}
		return
	}
	p.luma.x.build(dst.x0, dst.x1-dst.x0, clip.x0, clip.x1, rx, rw, sw)
	p.luma.y.build(dst.y0, dst.y1-dst.y0, clip.y0, clip.y1, ry, rh, sh)
	p.luma.x0, p.luma.y0 = clip.x0, clip.y0
	p.chr.x.build(dst.x0/2, (dst.x1-dst.x0)/2, clip.x0/2, clip.x1/2, rx/2, rw/2, (sw+1)/2)
	p.chr.y.build(dst.y0/2, (dst.y1-dst.y0)/2, clip.y0/2, clip.y1/2, ry/2, rh/2, (sh+1)/2)
	p.chr.x0, p.chr.y0 = clip.x0/2, clip.y0/2
}

func roundEven(v float64) int { return 2 * int(math.Round(v/2)) }

// plan scales a region of one source plane into a rectangle of one
// canvas plane, bilinearly, with 8-bit weights.
type plan struct {
	x0, y0 int // the first canvas pixel written
	x, y   axis
}

// axis maps each canvas column (or row) to the two source columns (rows)
// around it and the weight of the second, out of 256.
type axis struct {
	i0, i1 []int32
	w      []uint16
	copy   bool // consecutive source pixels, no weights: a straight copy
}

// build maps canvas coordinates [c0,c1), part of a destination span of n
// pixels from d0, onto the source span of length size from start, in a
// source of limit pixels.
func (a *axis) build(d0, n, c0, c1 int, start, size float64, limit int) {
	cnt := max(c1-c0, 0)
	a.i0, a.i1, a.w = grow(a.i0, cnt), grow(a.i1, cnt), grow(a.w, cnt)
	a.copy = cnt > 0
	step := size / float64(max(n, 1))
	last := float64(limit - 1)
	for k := range cnt {
		pos := start + (float64(c0+k-d0)+0.5)*step - 0.5
		pos = min(max(pos, 0), last)
		i := int(pos)
		w := int(math.Round((pos - float64(i)) * 256))
		if w >= 256 {
			i, w = i+1, 0
		}
		i = min(i, limit-1)
		a.i0[k], a.i1[k], a.w[k] = int32(i), int32(min(i+1, limit-1)), uint16(w)
		if w != 0 || (k > 0 && a.i0[k] != a.i0[k-1]+1) {
			a.copy = false
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// run scales src (rows of srcStride bytes) into dst (rows of dstStride).
func (pl *plan) run(dst []byte, dstStride int, src []byte, srcStride int) {
	xs, ys := &pl.x, &pl.y
	n := len(xs.i0)
	if n == 0 {
		return
	}
	for j := range ys.i0 {
		r0 := src[int(ys.i0[j])*srcStride:][:srcStride]
		r1 := src[int(ys.i1[j])*srcStride:][:srcStride]
		d := dst[(pl.y0+j)*dstStride+pl.x0:][:n]
		wy := uint32(ys.w[j])
		switch {
		case xs.copy && wy == 0:
			copy(d, r0[xs.i0[0]:])
		case wy == 0:
			scaleRow(d, r0, xs)
		default:
			scaleRows(d, r0, r1, wy, xs)
		}
	}
}

// scaleRow interpolates one source row along x.
func scaleRow(d, r []byte, xs *axis) {
	i0, i1, w := xs.i0[:len(d)], xs.i1[:len(d)], xs.w[:len(d)]
	for k := range d {
		wx := uint32(w[k])
		d[k] = byte((uint32(r[i0[k]])*(256-wx) + uint32(r[i1[k]])*wx + 128) >> 8)
	}
}

// scaleRows interpolates between two source rows, wy/256 of the way to
// r1, and along x.
func scaleRows(d, r0, r1 []byte, wy uint32, xs *axis) {
	i0, i1, w := xs.i0[:len(d)], xs.i1[:len(d)], xs.w[:len(d)]
	iy := 256 - wy
	for k := range d {
		a, b, wx := i0[k], i1[k], uint32(w[k])
		ix := 256 - wx
		top := uint32(r0[a])*ix + uint32(r0[b])*wx
		bot := uint32(r1[a])*ix + uint32(r1[b])*wx
		d[k] = byte((top*iy + bot*wy + 1<<15) >> 16)
	}
}
