package loadtest

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// lineWidth is the width in pixels of a series' line in the PNG.
const lineWidth = 2

// chartFonts are the Go fonts, parsed once; a parsed font may be shared,
// a face made from it may not, so each drawing makes its own faces.
var chartFonts = sync.OnceValues(func() (fonts [2]*opentype.Font, err error) {
	for i, ttf := range [][]byte{goregular.TTF, gobold.TTF} {
		if fonts[i], err = opentype.Parse(ttf); err != nil {
			return fonts, err
		}
	}
	return fonts, nil
})

// chartFaces are the faces a PNG chart writes with, at the sizes the SVG
// asks for: 12 px text, bold panel titles and a 15 px bold title.
type chartFaces struct {
	text, bold, title font.Face
}

func newChartFaces() (chartFaces, error) {
	fonts, err := chartFonts()
	if err != nil {
		return chartFaces{}, err
	}
	face := func(f *opentype.Font, size float64) (font.Face, error) {
		return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	}
	var fs chartFaces
	if fs.text, err = face(fonts[0], 12); err != nil {
		return fs, err
	}
	if fs.bold, err = face(fonts[1], 12); err != nil {
		return fs, err
	}
	fs.title, err = face(fonts[1], 15)
	return fs, err
}

// WritePNG draws the same figure as WriteSVG as a PNG image, one pixel per
// SVG unit: one panel per measure, seconds along the bottom, the joining
// phase shaded, each series a line in its colour with its label above
// the panel.
func (r Report) WritePNG(w io.Writer) error {
	faces, err := newChartFaces()
	if err != nil {
		return fmt.Errorf("chart font: %w", err)
	}
	l := r.layout()
	img := image.NewRGBA(image.Rect(0, 0, l.width, l.height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	drawText(img, faces.title, chartLeft, titleY, l.title, anchorStart, color.Black)
	for i, line := range l.subtitle {
		drawText(img, faces.text, chartLeft, float64(subtitleY+i*subtitleLine), line, anchorStart, mutedColor)
	}

	left, right := chartLeft, int(math.Round(chartLeft+l.plotW))
	for _, p := range l.panels {
		top, bottom := int(math.Round(p.top)), int(math.Round(p.top+panelH))
		drawText(img, faces.bold, chartLeft, p.top-aboveBox, p.title, anchorStart, color.Black)
		if p.shadeW > 0 {
			fillRect(img, image.Rect(left, top, int(math.Round(chartLeft+p.shadeW)), bottom), shadeColor)
		}
		for _, tm := range p.yTicks {
			fillRect(img, image.Rect(left, int(math.Floor(tm.pos)), right, int(math.Floor(tm.pos))+1), gridColor)
			drawText(img, faces.text, chartLeft-yTickGap, tm.pos+yTickDrop, tm.label, anchorEnd, mutedColor)
		}
		for _, tm := range p.xTicks {
			drawText(img, faces.text, tm.pos, p.top+panelH+xTickDrop, tm.label, anchorMiddle, mutedColor)
		}
		strokeRect(img, image.Rect(left, top, right+1, bottom+1), frameColor)

		// Lines are stroked into a coverage mask over the plot (and the
		// half line width that can spill over its edges), then the
		// series' colour is painted through it; the first series is
		// painted last, on top of the others.
		box := image.Rect(left, top, right+1, bottom+1).Inset(-lineWidth).Intersect(img.Bounds())
		mask := image.NewAlpha(box)
		for j := len(p.lines) - 1; j >= 0; j-- {
			ln := p.lines[j]
			if len(ln.pts) > 0 {
				clear(mask.Pix)
				strokePolyline(mask, ln.pts, lineWidth)
				draw.DrawMask(img, box, image.NewUniform(ln.color), image.Point{}, mask, box.Min, draw.Over)
			}
			drawText(img, faces.text, ln.legendX, p.top-aboveBox, ln.label, anchorEnd, ln.color)
		}
	}
	drawText(img, faces.text, chartLeft+l.plotW/2, float64(l.height-captionAbove), timeCaption, anchorMiddle, mutedColor)
	return png.Encode(w, img)
}

// anchor says which point of a text its position gives, as SVG's
// text-anchor does.
type anchor int

const (
	anchorStart anchor = iota
	anchorMiddle
	anchorEnd
)

// drawText writes s with its baseline at y, starting, centred or ending at
// x, snapped to whole pixels for crisp hinted glyphs.
func drawText(dst draw.Image, face font.Face, x, y float64, s string, a anchor, c color.Color) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face}
	switch a {
	case anchorMiddle:
		x -= float64(d.MeasureString(s)) / 64 / 2
	case anchorEnd:
		x -= float64(d.MeasureString(s)) / 64
	}
	d.Dot = fixed.P(int(math.Round(x)), int(math.Round(y)))
	d.DrawString(s)
}

// fillRect paints r in c.
func fillRect(dst draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(dst, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// strokeRect draws the 1-pixel outline just inside r.
func strokeRect(dst draw.Image, r image.Rectangle, c color.Color) {
	fillRect(dst, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), c)
	fillRect(dst, image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), c)
	fillRect(dst, image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), c)
	fillRect(dst, image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), c)
}

// strokePolyline adds to mask the coverage of an antialiased line of the
// given width through pts, with round joins and ends (a single point is a
// dot). A pixel takes the largest coverage any segment gives it, so the
// joints, where segments overlap, are not darker than the rest.
func strokePolyline(mask *image.Alpha, pts []point, width float64) {
	if len(pts) == 1 {
		strokeSegment(mask, pts[0], pts[0], width/2)
	}
	for i := 1; i < len(pts); i++ {
		strokeSegment(mask, pts[i-1], pts[i], width/2)
	}
}

// strokeSegment adds to mask the coverage of the segment a–b thickened by
// hw on every side: a pixel whose centre is within hw-½ of the segment is
// fully covered, one at hw+½ or more not at all, and in between it fades
// linearly with the distance. A segment with an end that is not a finite
// number (a NaN sample) is left out.
func strokeSegment(mask *image.Alpha, a, b point, hw float64) {
	for _, v := range []float64{a.x, a.y, b.x, b.y} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
	}
	reach := hw + 0.5
	bounds := image.Rect(
		int(math.Floor(math.Min(a.x, b.x)-reach)), int(math.Floor(math.Min(a.y, b.y)-reach)),
		int(math.Ceil(math.Max(a.x, b.x)+reach)), int(math.Ceil(math.Max(a.y, b.y)+reach)),
	).Intersect(mask.Rect)
	dx, dy := b.x-a.x, b.y-a.y
	length2 := dx*dx + dy*dy
	for py := bounds.Min.Y; py < bounds.Max.Y; py++ {
		cy := float64(py) + 0.5
		for px := bounds.Min.X; px < bounds.Max.X; px++ {
			cx := float64(px) + 0.5
			// The point of the segment nearest the pixel's centre.
			t := 0.0
			if length2 > 0 {
				t = math.Max(0, math.Min(1, ((cx-a.x)*dx+(cy-a.y)*dy)/length2))
			}
			ex, ey := a.x+t*dx-cx, a.y+t*dy-cy
			cover := reach - math.Sqrt(ex*ex+ey*ey)
			if cover <= 0 {
				continue
			}
			v := uint8(math.Round(255 * math.Min(cover, 1)))
			if i := mask.PixOffset(px, py); v > mask.Pix[i] {
				mask.Pix[i] = v
			}
		}
	}
}
