package layout

import "slices"

// bestFit tiles every stream in the grid whose tiles are largest.
func bestFit(c canvas, streams []Stream) []placement {
	n := len(streams)
	// Tiles have the shape of the pictures they mostly hold: cameras are
	// 4:3 in OpenTok's default resolution, screens are wider.
	an, ad := 4, 3
	if !slices.ContainsFunc(streams, func(s Stream) bool { return !isScreen(s) }) {
		an, ad = 16, 9
	}
	cols, tw, th := 0, 0, 0
	for k := 1; k <= n; k++ {
		rows := (n + k - 1) / k
		// Keep the limiting side exact, derive the other.
		var w, h int
		if cw, ch := c.w/k, c.h/rows; ch*an <= cw*ad {
			h = even(ch)
			w = even(h * an / ad)
		} else {
			w = even(cw)
			h = even(w * ad / an)
		}
		better := w*h > tw*th
		if w*h == tw*th && w*h > 0 {
			// On a tie, lay the grid out along the canvas's long side.
			better = c.w >= c.h
		}
		if cols == 0 || better {
			cols, tw, th = k, w, h
		}
	}
	rows := (n + cols - 1) / cols
	y0 := even((c.h - rows*th) / 2)
	out := make([]placement, n)
	for i, s := range streams {
		r, col := i/cols, i%cols
		inRow := min(cols, n-r*cols)
		x0 := even((c.w - inRow*tw) / 2)
		out[i] = placement{Box{StreamID: s.ID, X: x0 + col*tw, Y: y0 + r*th, W: tw, H: th, Fit: fitOf(s)}, i}
	}
	return out
}

// hasClass reports whether s's class list holds one of names.
func hasClass(s Stream, names ...string) bool {
	return slices.ContainsFunc(s.Classes, func(c string) bool { return slices.Contains(names, c) })
}

// pip covers the canvas with the full stream and puts the first other one
// in the lower right corner.
func pip(c canvas, streams []Stream, full int) []placement {
	if full < 0 {
		full = max(0, slices.IndexFunc(streams, func(s Stream) bool { return hasClass(s, "full", "focus") }))
	}
	out := []placement{whole(c, streams, full)}
	corner := 0
	if full == 0 {
		corner = 1
	}
	if corner < len(streams) {
		s := streams[corner]
		w, h, m := even(c.w/4), even(c.h/4), even(min(c.w, c.h)/32)
		out = append(out, placement{Box{StreamID: s.ID, X: c.w - w - m, Y: c.h - h - m, W: w, H: h, Z: 1, Fit: fitOf(s)}, corner})
	}
	return out
}

// whole covers the canvas with stream i.
func whole(c canvas, streams []Stream, i int) placement {
	return placement{Box{StreamID: streams[i].ID, W: c.w, H: c.h, Fit: fitOf(streams[i])}, i}
}

// presentationFocus is the focus stream of the presentation layouts:
// the first stream with class focus or full, else the first screen share,
// else the first stream.
func presentationFocus(streams []Stream) int {
	if i := slices.IndexFunc(streams, func(s Stream) bool { return hasClass(s, "focus", "full") }); i >= 0 {
		return i
	}
	return max(0, slices.IndexFunc(streams, isScreen))
}

// vertical puts the focus stream on the right and the others in a column
// on the left.
func vertical(c canvas, streams []Stream, focus int) []placement {
	if focus < 0 {
		focus = presentationFocus(streams)
	}
	if len(streams) == 1 {
		return []placement{whole(c, streams, 0)}
	}
	k := len(streams) - 1
	cw := even(c.w / 6)
	h := min(even(c.h/k), even(cw*3/4))
	y := even((c.h - k*h) / 2)
	out := []placement{{Box{StreamID: streams[focus].ID, X: cw, W: c.w - cw, H: c.h, Fit: fitOf(streams[focus])}, focus}}
	for i, s := range streams {
		if i != focus {
			out = append(out, placement{Box{StreamID: s.ID, Y: y, W: cw, H: h, Fit: fitOf(s)}, i})
			y += h
		}
	}
	return out
}

// horizontal puts the focus stream at the top and the others in a row at
// the bottom.
func horizontal(c canvas, streams []Stream, focus int) []placement {
	if focus < 0 {
		focus = presentationFocus(streams)
	}
	if len(streams) == 1 {
		return []placement{whole(c, streams, 0)}
	}
	k := len(streams) - 1
	rh := even(c.h / 6)
	w := min(even(c.w/k), even(rh*4/3))
	x := even((c.w - k*w) / 2)
	out := []placement{{Box{StreamID: streams[focus].ID, W: c.w, H: c.h - rh, Fit: fitOf(streams[focus])}, focus}}
	for i, s := range streams {
		if i != focus {
			out = append(out, placement{Box{StreamID: s.ID, X: x, Y: c.h - rh, W: w, H: rh, Fit: fitOf(s)}, i})
			x += w
		}
	}
	return out
}
