package layout

import (
	"math"
	"slices"
)

// style is what the cascade gives one stream.
type style struct {
	left, top, right, bottom, width, height length
	z                                       int
	fit                                     string
	hidden                                  bool
}

// matches reports whether sel selects stream s, the i-th of n (0-based).
func (sel *selector) matches(s Stream, i, n int) bool {
	if sel.first && i != 0 || sel.last && i != n-1 {
		return false
	}
	for _, k := range sel.nth {
		if k != i+1 {
			return false
		}
	}
	for _, c := range sel.classes {
		if !slices.Contains(s.Classes, c) {
			return false
		}
	}
	return true
}

// cascade computes the style of stream s, the i-th of n.
func (sh *stylesheet) cascade(s Stream, i, n int) style {
	type match struct{ specificity, rule int }
	var matched []match
	for r := range sh.rules {
		best := -1
		for k := range sh.rules[r].selectors {
			if sel := &sh.rules[r].selectors[k]; sel.matches(s, i, n) {
				best = max(best, sel.specificity)
			}
		}
		if best >= 0 {
			matched = append(matched, match{best, r})
		}
	}
	// Rules were found in source order: a stable sort by specificity
	// keeps it among equals.
	slices.SortStableFunc(matched, func(a, b match) int { return a.specificity - b.specificity })
	st := style{fit: FitCover}
	for _, m := range matched {
		for _, d := range sh.rules[m.rule].decls {
			switch d.prop {
			case propLeft:
				st.left = d.length
			case propTop:
				st.top = d.length
			case propRight:
				st.right = d.length
			case propBottom:
				st.bottom = d.length
			case propWidth:
				st.width = d.length
			case propHeight:
				st.height = d.length
			case propZIndex:
				st.z = d.z
			case propObjectFit:
				st.fit = d.fit
			case propDisplay:
				st.hidden = d.hidden
			}
		}
	}
	return st
}

// place lays the streams out as the stylesheet says.
func (sh *stylesheet) place(c canvas, streams []Stream) []placement {
	var out []placement
	for i, s := range streams {
		st := sh.cascade(s, i, len(streams))
		if st.hidden || !st.width.set || !st.height.set {
			continue
		}
		x0, x1 := span(st.left, st.right, st.width, c.w)
		y0, y1 := span(st.top, st.bottom, st.height, c.h)
		out = append(out, placement{Box{StreamID: s.ID, X: x0, Y: y0, W: x1 - x0, H: y1 - y0, Z: st.z, Fit: st.fit}, i})
	}
	return out
}

// span resolves one axis of a box on a side of size px: its start from
// start, else from end, else 0; its edges cut to the side and rounded to
// even pixels.
func span(start, end, size length, px int) (int, int) {
	n := size.resolve(px)
	var a float64
	switch {
	case start.set:
		a = start.resolve(px)
	case end.set:
		a = float64(px) - end.resolve(px) - n
	}
	edge := func(v float64) int {
		v = math.Min(math.Max(v, 0), float64(px))
		return int(math.Round(v/2)) * 2
	}
	return edge(a), edge(a + n)
}
