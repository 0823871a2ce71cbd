package compositor

// Black in limited-range YUV, the range the decoders write and the encoder
// reads.
const (
	blackY = 16
	blackC = 128
)

// picture is a planar YUV 4:2:0 picture, the planes back to back in buf
// (the layout of a yuv4mpegpipe frame and of the encoder's raw input).
type picture struct {
	w, h    int // luma size
	cw, ch  int // chroma size: half, rounded up
	buf     []byte
	y, u, v []byte
}

func newPicture(w, h int) *picture {
	cw, ch := (w+1)/2, (h+1)/2
	ys, cs := w*h, cw*ch
	buf := make([]byte, ys+2*cs)
	return &picture{
		w: w, h: h, cw: cw, ch: ch, buf: buf,
		y: buf[:ys:ys], u: buf[ys : ys+cs : ys+cs], v: buf[ys+cs:],
	}
}

// frameSize is the byte size of a w×h picture.
func frameSize(w, h int) int {
	return w*h + 2*((w+1)/2)*((h+1)/2)
}

// fill paints p black.
func (p *picture) fillBlack() {
	fillBytes(p.y, blackY)
	fillBytes(p.u, blackC)
	fillBytes(p.v, blackC)
}

func fillBytes(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}
