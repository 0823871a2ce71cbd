package loadtest

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/font"
)

// svgPaths parses an SVG document and returns the data-series of its
// paths, failing on anything that is not well-formed XML.
func svgPaths(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var series []string
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "path" {
				for _, a := range se.Attr {
					if a.Name.Local == "data-series" {
						series = append(series, a.Value)
					}
				}
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	return series
}

func TestWriteSVG(t *testing.T) {
	rep := Report{Sessions: 1, VideoPublishers: 1, Subscribers: 3, Tracks: 3, Media: `VP8 clip <"&">`}
	for i := range 12 {
		phase := "steady"
		if i < 3 {
			phase = "joining"
		}
		rep.Timeline = append(rep.Timeline, Sample{T: float64(i + 1), Phase: phase,
			PacketsInPerSec: 300, PacketsOutPerSec: 100, LossPercent: float64(i % 2), DelayP50Ms: 0.5, DelayP99Ms: 2})
	}
	var b bytes.Buffer
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	got := svgPaths(t, b.Bytes())
	slices.Sort(got)
	if want := []string{"delay-p50", "delay-p99", "loss", "packets-in", "packets-out"}; !slices.Equal(got, want) {
		t.Errorf("series %v, want %v", got, want)
	}

	// With a server process, its CPU is a panel too; an empty timeline
	// still gives a path per series.
	rep.Server = &ProcReport{PID: 1}
	rep.Timeline = nil
	b.Reset()
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if got := svgPaths(t, b.Bytes()); len(got) != 8 || !slices.Contains(got, "server-cpu") || !slices.Contains(got, "machine-cpu") {
		t.Errorf("series %v", got)
	}
}

// decodePNG renders the report as a PNG and decodes it, checking it is as
// large as the layout says.
func decodePNG(t *testing.T, rep Report) (image.Image, chartLayout) {
	t.Helper()
	var b bytes.Buffer
	if err := rep.WritePNG(&b); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	l := rep.layout()
	if got, want := img.Bounds(), image.Rect(0, 0, l.width, l.height); got != want {
		t.Fatalf("image bounds %v, want %v", got, want)
	}
	return img, l
}

// countColor counts the pixels of img in r that are exactly c.
func countColor(img image.Image, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)) == c {
				n++
			}
		}
	}
	return n
}

// plotBox is a panel's plot area in the PNG, frame included.
func plotBox(l chartLayout, p panelLayout) image.Rectangle {
	return image.Rect(chartLeft, int(p.top), chartLeft+int(l.plotW)+1, int(p.top)+panelH+1)
}

func TestWritePNG(t *testing.T) {
	rep := Report{Sessions: 1, VideoPublishers: 2, Subscribers: 4, Tracks: 8, Media: "VP8 640×480", Server: &ProcReport{PID: 1}}
	for i := range 30 {
		phase := "steady"
		if i < 5 {
			phase = "joining"
		}
		rep.Timeline = append(rep.Timeline, Sample{T: float64(i + 1), Phase: phase,
			PacketsInPerSec: 700 + float64(i), PacketsOutPerSec: 200, LossPercent: 0.4 + 0.1*float64(i%3),
			DelayP50Ms: 1, DelayP99Ms: 3 + float64(i%4), ServerCPUPercent: 40, ClientCPUPercent: 70, MachineCPUPercent: 150})
	}
	img, l := decodePNG(t, rep)
	if got := img.Bounds().Size(); got != image.Pt(chartW, chartTop+4*(panelH+panelGap)-panelGap+chartBottom) {
		t.Errorf("size %v", got)
	}
	if c := color.RGBAModel.Convert(img.At(0, 0)); c != (color.RGBA{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("background %v, want white", c)
	}
	if len(l.panels) != 4 {
		t.Fatalf("%d panels, want 4", len(l.panels))
	}
	for _, p := range l.panels {
		box := plotBox(l, p)
		if n := countColor(img, image.Rect(box.Min.X, box.Min.Y, box.Min.X+1, box.Max.Y), frameColor); n < panelH/2 {
			t.Errorf("%s: %d pixels of the frame's left edge, want most of %d", p.title, n, panelH)
		}
		if n := countColor(img, box, shadeColor); n == 0 {
			t.Errorf("%s: joining phase not shaded", p.title)
		}
		for _, ln := range p.lines {
			// A line over most of the plot's width, at least a pixel
			// thick in its full colour.
			if n := countColor(img, box, ln.color); n < int(l.plotW)*3/4 {
				t.Errorf("%s: %d pixels of %s's colour in the plot, want at least %d", p.title, n, ln.id, int(l.plotW)*3/4)
			}
			// Its legend label above the plot.
			above := image.Rect(chartLeft, box.Min.Y-aboveBox-12, box.Max.X, box.Min.Y)
			if n := countColor(img, above, ln.color); n == 0 {
				t.Errorf("%s: no legend in %s's colour", p.title, ln.id)
			}
		}
	}
}

// An empty timeline still gives the whole figure, as the SVG does:
// panels, axes and legends, without lines.
func TestWritePNGEmpty(t *testing.T) {
	for _, rep := range []Report{{}, {Server: &ProcReport{PID: 1}}} {
		img, l := decodePNG(t, rep)
		if want := len(rep.panels()); len(l.panels) != want {
			t.Fatalf("%d panels, want %d", len(l.panels), want)
		}
		for _, p := range l.panels {
			box := plotBox(l, p)
			if n := countColor(img, box, frameColor); n < 2*panelH {
				t.Errorf("%s: frame has %d pixels", p.title, n)
			}
			for _, ln := range p.lines {
				if n := countColor(img, box.Inset(2), ln.color); n != 0 {
					t.Errorf("%s: %d pixels of %s's colour with no samples", p.title, n, ln.id)
				}
			}
		}
	}
}

// A line is antialiased, as thick as asked, and not darker where its
// segments meet.
func TestStrokePolyline(t *testing.T) {
	mask := image.NewAlpha(image.Rect(0, 0, 40, 20))
	strokePolyline(mask, []point{{5, 10}, {20, 10}, {35, 10}}, 2)
	for x := 6; x < 34; x++ {
		col := []uint8{mask.AlphaAt(x, 8).A, mask.AlphaAt(x, 9).A, mask.AlphaAt(x, 10).A, mask.AlphaAt(x, 11).A}
		if !slices.Equal(col, []uint8{0, 255, 255, 0}) {
			t.Fatalf("column %d: %v, want a 2-pixel line on rows 9 and 10", x, col)
		}
	}
	if a := mask.AlphaAt(4, 9).A; a == 0 || a == 255 {
		t.Errorf("round end: alpha %d, want partial", a)
	}
	if a := mask.AlphaAt(2, 10).A; a != 0 {
		t.Errorf("beyond the end: alpha %d", a)
	}

	// A NaN sample leaves out its segments rather than drawing garbage.
	clear(mask.Pix)
	strokePolyline(mask, []point{{5, 10}, {20, math.NaN()}, {35, 10}}, 2)
	if slices.ContainsFunc(mask.Pix, func(a uint8) bool { return a != 0 }) {
		t.Error("segments to a NaN point were drawn")
	}
}

func TestNiceCeilAndTick(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0, 1}, {-3, 1}, {0.7, 1}, {1, 1}, {1.2, 2}, {3, 5}, {7, 10}, {4200, 5000}, {0.013, 0.02}} {
		if got := niceCeil(c.in); got != c.want {
			t.Errorf("niceCeil(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   float64
		want string
	}{{0, "0"}, {2.5, "2.5"}, {12000, "12k"}, {2500000, "2.5M"}} {
		if got := tick(c.in); got != c.want {
			t.Errorf("tick(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A media line too long for the chart's width is broken into lines that
// fit (measured in the PNG's own font), and the panels move down to make
// room.
func TestChartSubtitleWraps(t *testing.T) {
	media := "VP8 simulcast clips (320x180 150.0 kbit/s, 640x360 450.0 kbit/s, 1280x720 1.50 Mbit/s; 30 fps, " +
		"a keyframe every 2s, ffmpeg testsrc2, 10 s looped) + Opus clip (mono, 32 kbit/s, 20 ms frames, ffmpeg sine, 10 s looped)"
	short := Report{Media: "VP8 640x480", Timeline: []Sample{{T: 1}, {T: 2}}}
	long := short
	long.Media = media
	ls, ll := short.layout(), long.layout()
	if len(ls.subtitle) != 1 || len(ll.subtitle) < 2 {
		t.Fatalf("subtitle lines: %d for a short media text, %d for a long one", len(ls.subtitle), len(ll.subtitle))
	}
	if got := strings.Join(ll.subtitle, " "); got != media {
		t.Fatalf("the lines say %q", got)
	}
	faces, err := newChartFaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range ll.subtitle {
		if w := font.MeasureString(faces.text, line).Ceil(); w > chartW-chartLeft-chartRight {
			t.Errorf("line %q is %d pixels wide, more than the chart's %d", line, w, chartW-chartLeft-chartRight)
		}
	}
	extra := float64((len(ll.subtitle) - 1) * subtitleLine)
	if ll.panels[0].top != ls.panels[0].top+extra || ll.height != ls.height+int(extra) {
		t.Errorf("first panel at %v (short: %v), height %d (short: %d): want both %v lower", ll.panels[0].top, ls.panels[0].top, ll.height, ls.height, extra)
	}
}
