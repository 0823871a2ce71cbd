package loadtest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// series is one line of a chart.
type series struct {
	id, label string
	color     color.RGBA
	value     func(Sample) float64
}

// panel is one chart of the figure, over the run's time.
type panel struct {
	title  string
	series []series
}

// panels are what a chart of the report draws: packets per second in and
// out, loss, delay, and with a server process its CPU beside this load
// test's and the whole machine's (on a shared machine, the difference is
// what other work took).
func (r Report) panels() []panel {
	ps := []panel{
		{"RTP packets per second", []series{
			{"packets-in", "received by subscribers", rgb(0x1f77b4), func(s Sample) float64 { return s.PacketsInPerSec }},
			{"packets-out", "sent by publishers", rgb(0xff7f0e), func(s Sample) float64 { return s.PacketsOutPerSec }},
		}},
		{"loss, % of the packets expected that second", []series{
			{"loss", "loss", rgb(0xd62728), func(s Sample) float64 { return s.LossPercent }},
		}},
		{"one-way delay, ms", []series{
			{"delay-p50", "p50", rgb(0x2ca02c), func(s Sample) float64 { return s.DelayP50Ms }},
			{"delay-p99", "p99", rgb(0x9467bd), func(s Sample) float64 { return s.DelayP99Ms }},
		}},
	}
	if r.Server != nil {
		ps = append(ps, panel{"CPU, % of one core", []series{
			{"server-cpu", "server", rgb(0x8c564b), func(s Sample) float64 { return s.ServerCPUPercent }},
			{"client-cpu", "load test", rgb(0x7f7f7f), func(s Sample) float64 { return s.ClientCPUPercent }},
			{"machine-cpu", "whole machine", rgb(0xbcbd22), func(s Sample) float64 { return s.MachineCPUPercent }},
		}})
	}
	return ps
}

// Chart geometry, in SVG user units, which are also the pixels of the PNG.
const (
	chartW      = 960
	chartLeft   = 70
	chartRight  = 20
	panelH      = 170
	panelGap    = 50
	chartTop    = 80
	chartBottom = 40
)

// Where the text goes, as baselines relative to what it labels.
const (
	titleY       = 22 // the figure's title
	subtitleY    = 42 // the media line under it
	subtitleLine = 15 // and each further line of it
	aboveBox     = 8  // panel titles and legends: this far above their plot
	yTickGap     = 6  // y tick labels end this far left of the plot
	yTickDrop    = 4  // y tick labels: this far below their grid line
	xTickDrop    = 15 // x tick labels: this far below the plot
	captionAbove = 8  // the time axis caption: this far above the bottom edge
)

// Colours of the chart's furniture; series bring their own.
var (
	mutedColor = rgb(0x555555) // subtitle, tick labels, caption
	gridColor  = rgb(0xdddddd)
	frameColor = rgb(0x999999)
	shadeColor = rgb(0xf2f2f2) // the joining phase
)

// rgb is the opaque colour 0xRRGGBB.
func rgb(v uint32) color.RGBA {
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
}

// timeCaption labels the time axis under the last panel.
const timeCaption = "seconds since the start (shaded: clients joining)"

// chartLayout is a chart of a report worked out down to coordinates: the
// SVG and the PNG renderers both draw exactly this.
type chartLayout struct {
	width, height int
	title         string
	// subtitle is the media text, broken into lines that fit the width.
	subtitle []string
	// plotW is the width of every panel's plot, which starts at chartLeft.
	plotW  float64
	panels []panelLayout
}

// panelLayout is one panel: its plot is panelH high from top.
type panelLayout struct {
	title string
	top   float64
	// shadeW is the width of the joining phase from the plot's left edge,
	// 0 when nothing was joining.
	shadeW float64
	yTicks []tickMark // pos is the y of a horizontal grid line
	xTicks []tickMark // pos is the x of a time label
	lines  []seriesLine
}

// tickMark is one axis label and where it goes.
type tickMark struct {
	pos   float64
	label string
}

// seriesLine is one series of a panel as a polyline, with the right end
// of its legend label (the labels line up, right-aligned, above the
// plot, the first series rightmost).
type seriesLine struct {
	series
	pts     []point
	legendX float64
}

type point struct{ x, y float64 }

// layout works out the chart of the report: one panel per measure over
// the run's time, each scaled to its own largest value rounded up to a
// nice number.
func (r Report) layout() chartLayout {
	ps := r.panels()
	sub := wrapText(r.Media, subtitleChars)
	// Panels move down by the subtitle's extra lines.
	top0 := chartTop + max(len(sub)-1, 0)*subtitleLine
	l := chartLayout{
		width:  chartW,
		height: top0 + len(ps)*(panelH+panelGap) - panelGap + chartBottom,
		title: fmt.Sprintf("parley loadtest: %d session(s) × (%d video + %d audio publishers, %d subscribers); %d tracks forwarded",
			r.Sessions, r.VideoPublishers, r.AudioPublishers, r.Subscribers, r.Tracks),
		subtitle: sub,
		plotW:    float64(chartW - chartLeft - chartRight),
	}
	tmax := 1.0
	joinEnd := 0.0
	for _, s := range r.Timeline {
		tmax = math.Max(tmax, s.T)
		if s.Phase == "joining" {
			joinEnd = s.T
		}
	}
	x := func(t float64) float64 { return chartLeft + t/tmax*l.plotW }
	for i, p := range ps {
		top := float64(top0 + i*(panelH+panelGap))
		ymax := 0.0
		for _, s := range r.Timeline {
			for _, se := range p.series {
				ymax = math.Max(ymax, se.value(s))
			}
		}
		ymax = niceCeil(ymax)
		y := func(v float64) float64 { return top + panelH - v/ymax*panelH }

		pl := panelLayout{title: p.title, top: top}
		if joinEnd > 0 {
			pl.shadeW = x(joinEnd) - x(0)
		}
		for k := 0; k <= 4; k++ {
			v := ymax * float64(k) / 4
			pl.yTicks = append(pl.yTicks, tickMark{y(v), tick(v)})
		}
		step := niceCeil(tmax / 8)
		for t := 0.0; t <= tmax+1e-9; t += step {
			pl.xTicks = append(pl.xTicks, tickMark{x(t), tick(t)})
		}
		pl.lines = make([]seriesLine, len(p.series))
		lx := x(tmax)
		for j := len(p.series) - 1; j >= 0; j-- {
			se := p.series[j]
			pts := make([]point, len(r.Timeline))
			for n, s := range r.Timeline {
				pts[n] = point{x(s.T), y(se.value(s))}
			}
			pl.lines[j] = seriesLine{series: se, pts: pts, legendX: lx}
			lx -= float64(8*len(se.label) + 20)
		}
		l.panels = append(l.panels, pl)
	}
	return l
}

// WriteSVG draws the timeline as an SVG figure: one panel per measure,
// seconds along the bottom, the joining phase shaded. Each series is one
// <path> with a data-series attribute naming it.
func (r Report) WriteSVG(w io.Writer) error {
	l := r.layout()
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", l.width, l.height, l.width, l.height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", l.width, l.height)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="15" font-weight="bold">%s</text>`+"\n", chartLeft, titleY, esc(l.title))
	for i, line := range l.subtitle {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", chartLeft, subtitleY+i*subtitleLine, svgColor(mutedColor), esc(line))
	}

	right := chartLeft + l.plotW
	for _, p := range l.panels {
		fmt.Fprintf(&b, `<g class="panel">`+"\n")
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-weight="bold">%s</text>`+"\n", chartLeft, p.top-aboveBox, esc(p.title))
		if p.shadeW > 0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>`+"\n", float64(chartLeft), p.top, p.shadeW, panelH, svgColor(shadeColor))
		}
		for _, tm := range p.yTicks {
			fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`+"\n", chartLeft, right, tm.pos, tm.pos, svgColor(gridColor))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="%s">%s</text>`+"\n", chartLeft-yTickGap, tm.pos+yTickDrop, svgColor(mutedColor), tm.label)
		}
		for _, tm := range p.xTicks {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s">%s</text>`+"\n", tm.pos, p.top+panelH+xTickDrop, svgColor(mutedColor), tm.label)
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="none" stroke="%s"/>`+"\n", chartLeft, p.top, l.plotW, panelH, svgColor(frameColor))
		// The first series is drawn last, on top of the others.
		for j := len(p.lines) - 1; j >= 0; j-- {
			ln := p.lines[j]
			var d strings.Builder
			for n, pt := range ln.pts {
				cmd := 'L'
				if n == 0 {
					cmd = 'M'
				}
				fmt.Fprintf(&d, "%c%.1f %.1f ", cmd, pt.x, pt.y)
			}
			path := strings.TrimSpace(d.String())
			if path == "" {
				path = fmt.Sprintf("M%d %.1f", chartLeft, p.top+panelH) // no samples: a point, still a path
			}
			c := svgColor(ln.color)
			fmt.Fprintf(&b, `<path data-series="%s" d="%s" fill="none" stroke="%s" stroke-width="1.5"><title>%s</title></path>`+"\n", ln.id, path, c, esc(ln.label))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="%s">%s</text>`+"\n", ln.legendX, p.top-aboveBox, c, esc(ln.label))
		}
		fmt.Fprintf(&b, "</g>\n")
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", chartLeft+l.plotW/2, l.height-captionAbove, svgColor(mutedColor), timeCaption)
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// svgColor writes an opaque colour in hex, in the short form when there is
// one (#555 for #555555).
func svgColor(c color.RGBA) string {
	if c.R%0x11 == 0 && c.G%0x11 == 0 && c.B%0x11 == 0 {
		return fmt.Sprintf("#%x%x%x", c.R/0x11, c.G/0x11, c.B/0x11)
	}
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for v ≤ 0).
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// tick formats an axis value without needless digits.
func tick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%gM", math.Round(v/1e5)/10)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%gk", math.Round(v/100)/10)
	}
	return fmt.Sprintf("%g", math.Round(v*1000)/1000)
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// subtitleChars is how many characters of the 12-pixel subtitle font fit
// across the chart with room to spare (the widest glyphs are about 7
// pixels).
const subtitleChars = (chartW - chartLeft - chartRight) / 7

// wrapText breaks s at spaces into lines of at most n characters (a word
// longer than n gets a line of its own).
func wrapText(s string, n int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= n:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
