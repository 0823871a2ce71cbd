package loadtest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// series is one line of a chart.
type series struct {
	id, label, color string
	value            func(Sample) float64
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
			{"packets-in", "received by subscribers", "#1f77b4", func(s Sample) float64 { return s.PacketsInPerSec }},
			{"packets-out", "sent by publishers", "#ff7f0e", func(s Sample) float64 { return s.PacketsOutPerSec }},
		}},
		{"loss, % of the packets expected that second", []series{
			{"loss", "loss", "#d62728", func(s Sample) float64 { return s.LossPercent }},
		}},
		{"one-way delay, ms", []series{
			{"delay-p50", "p50", "#2ca02c", func(s Sample) float64 { return s.DelayP50Ms }},
			{"delay-p99", "p99", "#9467bd", func(s Sample) float64 { return s.DelayP99Ms }},
		}},
	}
	if r.Server != nil {
		ps = append(ps, panel{"CPU, % of one core", []series{
			{"server-cpu", "server", "#8c564b", func(s Sample) float64 { return s.ServerCPUPercent }},
			{"client-cpu", "load test", "#7f7f7f", func(s Sample) float64 { return s.ClientCPUPercent }},
			{"machine-cpu", "whole machine", "#bcbd22", func(s Sample) float64 { return s.MachineCPUPercent }},
		}})
	}
	return ps
}

// Chart geometry, in SVG user units.
const (
	chartW      = 960
	chartLeft   = 70
	chartRight  = 20
	panelH      = 170
	panelGap    = 50
	chartTop    = 80
	chartBottom = 40
)

// WriteSVG draws the timeline as an SVG figure: one panel per measure,
// seconds along the bottom, the joining phase shaded. Each series is one
// <path> with a data-series attribute naming it.
func (r Report) WriteSVG(w io.Writer) error {
	ps := r.panels()
	h := chartTop + len(ps)*(panelH+panelGap) - panelGap + chartBottom
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, h, chartW, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, h)
	title := fmt.Sprintf("parley loadtest: %d session(s) × (%d video + %d audio publishers, %d subscribers); %d tracks forwarded",
		r.Sessions, r.VideoPublishers, r.AudioPublishers, r.Subscribers, r.Tracks)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", chartLeft, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="42" fill="#555">%s</text>`+"\n", chartLeft, esc(r.Media))

	tmax := 1.0
	joinEnd := 0.0
	for _, s := range r.Timeline {
		tmax = math.Max(tmax, s.T)
		if s.Phase == "joining" {
			joinEnd = s.T
		}
	}
	plotW := float64(chartW - chartLeft - chartRight)
	x := func(t float64) float64 { return chartLeft + t/tmax*plotW }
	for i, p := range ps {
		top := float64(chartTop + i*(panelH+panelGap))
		ymax := 0.0
		for _, s := range r.Timeline {
			for _, se := range p.series {
				ymax = math.Max(ymax, se.value(s))
			}
		}
		ymax = niceCeil(ymax)
		y := func(v float64) float64 { return top + panelH - v/ymax*panelH }

		fmt.Fprintf(&b, `<g class="panel">`+"\n")
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-weight="bold">%s</text>`+"\n", chartLeft, top-8, esc(p.title))
		if joinEnd > 0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="#f2f2f2"/>`+"\n", x(0), top, x(joinEnd)-x(0), panelH)
		}
		for k := 0; k <= 4; k++ {
			v := ymax * float64(k) / 4
			fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", chartLeft, x(tmax), y(v), y(v))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", chartLeft-6, y(v)+4, tick(v))
		}
		step := niceCeil(tmax / 8)
		for t := 0.0; t <= tmax+1e-9; t += step {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text>`+"\n", x(t), top+panelH+15, tick(t))
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="none" stroke="#999"/>`+"\n", chartLeft, top, plotW, panelH)
		lx := x(tmax)
		for j := len(p.series) - 1; j >= 0; j-- {
			se := p.series[j]
			var d strings.Builder
			for n, s := range r.Timeline {
				cmd := 'L'
				if n == 0 {
					cmd = 'M'
				}
				fmt.Fprintf(&d, "%c%.1f %.1f ", cmd, x(s.T), y(se.value(s)))
			}
			path := strings.TrimSpace(d.String())
			if path == "" {
				path = fmt.Sprintf("M%d %.1f", chartLeft, y(0)) // no samples: a point, still a path
			}
			fmt.Fprintf(&b, `<path data-series="%s" d="%s" fill="none" stroke="%s" stroke-width="1.5"><title>%s</title></path>`+"\n", se.id, path, se.color, esc(se.label))
			// Legend, right-aligned above the panel.
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="%s">%s</text>`+"\n", lx, top-8, se.color, esc(se.label))
			lx -= float64(8*len(se.label) + 20)
		}
		fmt.Fprintf(&b, "</g>\n")
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">seconds since the start (shaded: clients joining)</text>`+"\n", chartLeft+plotW/2, h-8)
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
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
