package layout

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var canvases = []struct{ w, h int }{{640, 480}, {1280, 720}, {480, 640}}

// cams returns n camera streams s0, s1, ...
func cams(n int) []Stream {
	streams := make([]Stream, n)
	for i := range streams {
		streams[i] = Stream{ID: fmt.Sprintf("s%d", i), VideoType: "camera"}
	}
	return streams
}

func mustParse(t testing.TB, spec Spec) *Layout {
	t.Helper()
	l, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse(%+v): %v", spec, err)
	}
	return l
}

// checkBoxes checks what every Place answer must be: boxes inside the
// canvas, even, at least 2×2, one per stream at most, in paint order.
func checkBoxes(t testing.TB, boxes []Box, w, h int, streams []Stream) {
	t.Helper()
	order := map[string]int{}
	for i, s := range streams {
		order[s.ID] = i
	}
	seen := map[string]bool{}
	for i, b := range boxes {
		if b.X < 0 || b.Y < 0 || b.W < 2 || b.H < 2 || b.X+b.W > w || b.Y+b.H > h {
			t.Errorf("box %+v is not inside the %dx%d canvas", b, w, h)
		}
		if b.X%2 != 0 || b.Y%2 != 0 || b.W%2 != 0 || b.H%2 != 0 {
			t.Errorf("box %+v has an odd value", b)
		}
		if b.Fit != FitCover && b.Fit != FitContain {
			t.Errorf("box %+v: fit %q", b, b.Fit)
		}
		if _, ok := order[b.StreamID]; !ok || seen[b.StreamID] {
			t.Errorf("box %+v: unknown or repeated stream", b)
		}
		seen[b.StreamID] = true
		if i > 0 {
			a := boxes[i-1]
			if a.Z > b.Z || a.Z == b.Z && order[a.StreamID] > order[b.StreamID] {
				t.Errorf("boxes %+v and %+v are not in paint order", a, b)
			}
		}
	}
}

func overlap(a, b Box) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

func checkNoOverlap(t *testing.T, boxes []Box) {
	t.Helper()
	for i := range boxes {
		for j := i + 1; j < len(boxes); j++ {
			if overlap(boxes[i], boxes[j]) {
				t.Errorf("boxes %+v and %+v overlap", boxes[i], boxes[j])
			}
		}
	}
}

func boxOf(t *testing.T, boxes []Box, id string) Box {
	t.Helper()
	for _, b := range boxes {
		if b.StreamID == id {
			return b
		}
	}
	t.Fatalf("no box for %s in %+v", id, boxes)
	return Box{}
}

func TestEveryLayoutOnEveryCanvas(t *testing.T) {
	for _, typ := range []string{"", TypeBestFit, TypePip, TypeVerticalPresentation, TypeHorizontalPresentation} {
		l := mustParse(t, Spec{Type: typ})
		for _, c := range canvases {
			for _, n := range []int{1, 2, 3, 4, 7} {
				t.Run(fmt.Sprintf("%s/%dx%d/%d", typ, c.w, c.h, n), func(t *testing.T) {
					streams := cams(n)
					boxes := l.Place(c.w, c.h, streams)
					checkBoxes(t, boxes, c.w, c.h, streams)
					want := n
					if typ == TypePip {
						want = min(n, 2)
					}
					if len(boxes) != want {
						t.Fatalf("%d boxes, want %d: %+v", len(boxes), want, boxes)
					}
					if typ != TypePip {
						checkNoOverlap(t, boxes)
					}
					if again := l.Place(c.w, c.h, streams); !reflect.DeepEqual(again, boxes) {
						t.Errorf("second Place differs: %+v", again)
					}
				})
			}
		}
	}
}

func TestBestFit(t *testing.T) {
	l := mustParse(t, Spec{})
	tests := []struct {
		w, h, n int
		want    []Box // X, Y, W, H
	}{
		{640, 480, 1, []Box{{X: 0, Y: 0, W: 640, H: 480}}},
		{1280, 720, 1, []Box{{X: 160, Y: 0, W: 960, H: 720}}},
		{480, 640, 1, []Box{{X: 0, Y: 140, W: 480, H: 360}}},
		{640, 480, 2, []Box{{X: 0, Y: 120, W: 320, H: 240}, {X: 320, Y: 120, W: 320, H: 240}}},
		{1280, 720, 2, []Box{{X: 0, Y: 120, W: 640, H: 480}, {X: 640, Y: 120, W: 640, H: 480}}},
		{480, 640, 2, []Box{{X: 26, Y: 0, W: 426, H: 320}, {X: 26, Y: 320, W: 426, H: 320}}},
		{640, 480, 3, []Box{{X: 0, Y: 0, W: 320, H: 240}, {X: 320, Y: 0, W: 320, H: 240}, {X: 160, Y: 240, W: 320, H: 240}}},
		{1280, 720, 4, []Box{{X: 160, Y: 0, W: 480, H: 360}, {X: 640, Y: 0, W: 480, H: 360}, {X: 160, Y: 360, W: 480, H: 360}, {X: 640, Y: 360, W: 480, H: 360}}},
		{1280, 720, 7, []Box{
			{X: 0, Y: 120, W: 320, H: 240}, {X: 320, Y: 120, W: 320, H: 240}, {X: 640, Y: 120, W: 320, H: 240}, {X: 960, Y: 120, W: 320, H: 240},
			{X: 160, Y: 360, W: 320, H: 240}, {X: 480, Y: 360, W: 320, H: 240}, {X: 800, Y: 360, W: 320, H: 240},
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d/%d", tt.w, tt.h, tt.n), func(t *testing.T) {
			boxes := l.Place(tt.w, tt.h, cams(tt.n))
			for i := range tt.want {
				tt.want[i].StreamID = fmt.Sprintf("s%d", i)
				tt.want[i].Fit = FitCover
			}
			if !reflect.DeepEqual(boxes, tt.want) {
				t.Errorf("got  %+v\nwant %+v", boxes, tt.want)
			}
		})
	}
}

func TestBestFitFitsAndClasses(t *testing.T) {
	l := mustParse(t, Spec{Type: TypeBestFit})
	streams := cams(3)
	streams[1].VideoType = "screen"
	streams[2].Classes = []string{"focus"}
	boxes := l.Place(640, 480, streams)
	if boxOf(t, boxes, "s1").Fit != FitContain || boxOf(t, boxes, "s0").Fit != FitCover {
		t.Errorf("screens contain, cameras cover: %+v", boxes)
	}
	// Classes play no part in bestFit.
	plain := l.Place(640, 480, cams(3))
	for i := range boxes {
		if boxes[i].X != plain[i].X || boxes[i].Y != plain[i].Y {
			t.Errorf("a class moved a tile: %+v vs %+v", boxes, plain)
		}
	}
	// Screens only: 16:9 tiles.
	one := l.Place(640, 480, []Stream{{ID: "sc", VideoType: "screen"}})
	if want := (Box{StreamID: "sc", X: 0, Y: 60, W: 640, H: 360, Fit: FitContain}); !reflect.DeepEqual(one, []Box{want}) {
		t.Errorf("one screen: %+v, want %+v", one, want)
	}
}

func TestPip(t *testing.T) {
	l := mustParse(t, Spec{Type: TypePip})
	corner := map[[2]int]Box{
		{640, 480}:  {X: 466, Y: 346, W: 160, H: 120},
		{1280, 720}: {X: 938, Y: 518, W: 320, H: 180},
		{480, 640}:  {X: 346, Y: 466, W: 120, H: 160},
	}
	for _, c := range canvases {
		for _, n := range []int{1, 2, 3, 4, 7} {
			streams := cams(n)
			boxes := l.Place(c.w, c.h, streams)
			full := boxes[0]
			if full != (Box{StreamID: "s0", W: c.w, H: c.h, Fit: FitCover}) {
				t.Errorf("%dx%d/%d: full box %+v", c.w, c.h, n, full)
			}
			if n == 1 {
				continue
			}
			want := corner[[2]int{c.w, c.h}]
			want.StreamID, want.Z, want.Fit = "s1", 1, FitCover
			if boxes[1] != want {
				t.Errorf("%dx%d/%d: corner box %+v, want %+v", c.w, c.h, n, boxes[1], want)
			}
		}
	}
}

func TestPipFullClass(t *testing.T) {
	l := mustParse(t, Spec{Type: TypePip})
	for _, class := range []string{"full", "focus"} {
		streams := cams(3)
		streams[2].Classes = []string{"x", class}
		boxes := l.Place(640, 480, streams)
		if len(boxes) != 2 || boxes[0].StreamID != "s2" || boxes[0].W != 640 || boxes[1].StreamID != "s0" || boxes[1].Z != 1 {
			t.Errorf("class %s: %+v", class, boxes)
		}
	}
}

func TestPresentationFocus(t *testing.T) {
	tests := []struct {
		name    string
		streams func() []Stream
		focus   string
	}{
		{"first stream", func() []Stream { return cams(4) }, "s0"},
		{"screen share", func() []Stream { s := cams(4); s[2].VideoType = "screen"; return s }, "s2"},
		{"focus class", func() []Stream {
			s := cams(4)
			s[1].VideoType = "screen"
			s[3].Classes = []string{"focus"}
			return s
		}, "s3"},
		{"full class", func() []Stream { s := cams(4); s[2].Classes = []string{"full"}; return s }, "s2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range canvases {
				v := mustParse(t, Spec{Type: TypeVerticalPresentation}).Place(c.w, c.h, tt.streams())
				if f := boxOf(t, v, tt.focus); f.X != even(c.w/6) || f.Y != 0 || f.W != c.w-f.X || f.H != c.h {
					t.Errorf("vertical %dx%d: focus box %+v", c.w, c.h, f)
				}
				h := mustParse(t, Spec{Type: TypeHorizontalPresentation}).Place(c.w, c.h, tt.streams())
				if f := boxOf(t, h, tt.focus); f.X != 0 || f.Y != 0 || f.W != c.w || f.H != c.h-even(c.h/6) {
					t.Errorf("horizontal %dx%d: focus box %+v", c.w, c.h, f)
				}
			}
		})
	}
}

func TestVerticalPresentation(t *testing.T) {
	l := mustParse(t, Spec{Type: TypeVerticalPresentation})
	got := l.Place(640, 480, cams(3))
	want := []Box{
		{StreamID: "s0", X: 106, Y: 0, W: 534, H: 480, Fit: FitCover},
		{StreamID: "s1", X: 0, Y: 162, W: 106, H: 78, Fit: FitCover},
		{StreamID: "s2", X: 0, Y: 240, W: 106, H: 78, Fit: FitCover},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// Many streams share the column's height.
	got = l.Place(1280, 720, cams(7))
	for _, b := range got[1:] {
		if b.X != 0 || b.W != 212 || b.H != 120 {
			t.Errorf("column box %+v", b)
		}
	}
	if alone := l.Place(1280, 720, cams(1)); !reflect.DeepEqual(alone, []Box{{StreamID: "s0", W: 1280, H: 720, Fit: FitCover}}) {
		t.Errorf("alone: %+v", alone)
	}
}

func TestHorizontalPresentation(t *testing.T) {
	l := mustParse(t, Spec{Type: TypeHorizontalPresentation})
	got := l.Place(1280, 720, cams(3))
	want := []Box{
		{StreamID: "s0", X: 0, Y: 0, W: 1280, H: 600, Fit: FitCover},
		{StreamID: "s1", X: 480, Y: 600, W: 160, H: 120, Fit: FitCover},
		{StreamID: "s2", X: 640, Y: 600, W: 160, H: 120, Fit: FitCover},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	got = l.Place(640, 480, cams(7))
	for _, b := range got[1:] {
		if b.Y != 400 || b.W != 106 || b.H != 80 {
			t.Errorf("row box %+v", b)
		}
	}
	if alone := l.Place(640, 480, cams(1)); !reflect.DeepEqual(alone, []Box{{StreamID: "s0", W: 640, H: 480, Fit: FitCover}}) {
		t.Errorf("alone: %+v", alone)
	}
}

func TestScreenshareType(t *testing.T) {
	streams := cams(3)
	streams[0].Classes = []string{"focus"}
	withScreen := append(cams(3), Stream{ID: "sc", VideoType: "screen"})
	withScreen[0].Classes = []string{"focus"}

	grid := mustParse(t, Spec{}).Place(1280, 720, streams)
	for _, typ := range []string{TypePip, TypeVerticalPresentation, TypeHorizontalPresentation} {
		l := mustParse(t, Spec{Type: TypeBestFit, ScreenshareType: typ})
		// No screen share: bestFit.
		if got := l.Place(1280, 720, streams); !reflect.DeepEqual(got, grid) {
			t.Errorf("%s without a screen: %+v, want the grid %+v", typ, got, grid)
		}
		// A screen share: the screenshareType layout, the screen as focus,
		// whatever the classes say.
		got := l.Place(1280, 720, withScreen)
		want := map[string]Box{
			TypePip:                    {StreamID: "sc", W: 1280, H: 720, Fit: FitContain},
			TypeVerticalPresentation:   {StreamID: "sc", X: 212, W: 1068, H: 720, Fit: FitContain},
			TypeHorizontalPresentation: {StreamID: "sc", W: 1280, H: 600, Fit: FitContain},
		}[typ]
		if sc := boxOf(t, got, "sc"); sc != want {
			t.Errorf("%s: screen box %+v, want %+v", typ, sc, want)
		}
		if typ == TypePip && (len(got) != 2 || got[1].StreamID != "s0") {
			t.Errorf("pip: the corner goes to the first other stream: %+v", got)
		}
		checkBoxes(t, got, 1280, 720, withScreen)
	}
	// bestFit as the screenshareType is bestFit.
	l := mustParse(t, Spec{ScreenshareType: TypeBestFit})
	if got, want := l.Place(640, 480, withScreen), mustParse(t, Spec{}).Place(640, 480, withScreen); !reflect.DeepEqual(got, want) {
		t.Errorf("screenshareType bestFit: %+v, want %+v", got, want)
	}
}

func TestNoStreamsNoCanvas(t *testing.T) {
	for _, typ := range []string{TypeBestFit, TypePip, TypeVerticalPresentation, TypeHorizontalPresentation} {
		l := mustParse(t, Spec{Type: typ})
		if b := l.Place(640, 480, nil); b != nil {
			t.Errorf("%s, no streams: %+v", typ, b)
		}
		for _, c := range [][2]int{{0, 480}, {1, 1}, {640, -2}, {MaxSide + 1, 480}} {
			if b := l.Place(c[0], c[1], cams(2)); b != nil {
				t.Errorf("%s on %v: %+v", typ, c, b)
			}
		}
	}
	// An odd canvas loses a row and a column.
	b := mustParse(t, Spec{Type: TypePip}).Place(641, 481, cams(1))
	if len(b) != 1 || b[0].W != 640 || b[0].H != 480 {
		t.Errorf("641x481: %+v", b)
	}
	// Tiles below 2x2 are left out.
	if b := mustParse(t, Spec{}).Place(4, 4, cams(7)); b != nil {
		t.Errorf("7 tiles on 4x4: %+v", b)
	}
}

func custom(t *testing.T, sheet string) *Layout {
	t.Helper()
	return mustParse(t, Spec{Type: TypeCustom, Stylesheet: sheet})
}

func TestCustom(t *testing.T) {
	withClasses := func(classes ...[]string) []Stream {
		s := cams(len(classes))
		for i, c := range classes {
			s[i].Classes = c
		}
		return s
	}
	tests := []struct {
		name    string
		sheet   string
		streams []Stream
		want    []Box
	}{
		{
			"full canvas",
			"stream { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }",
			cams(1),
			[]Box{{StreamID: "s0", W: 640, H: 480, Fit: FitCover}},
		},
		{
			"no width or height: not shown",
			"stream { left: 0; top: 0; width: 50% } stream:last-of-type { height: 50% }",
			cams(3),
			[]Box{{StreamID: "s2", W: 320, H: 240, Fit: FitCover}},
		},
		{
			"specificity beats source order",
			".a { width: 50% } stream { width: 10%; height: 10% }",
			withClasses([]string{"a"}, nil),
			[]Box{{StreamID: "s0", W: 320, H: 48, Fit: FitCover}, {StreamID: "s1", W: 64, H: 48, Fit: FitCover}},
		},
		{
			"source order among equals",
			"stream:first-of-type { width: 20% } .a { width: 50% } stream { height: 100% }",
			withClasses([]string{"a"}),
			[]Box{{StreamID: "s0", W: 320, H: 480, Fit: FitCover}},
		},
		{
			"several classes all needed, higher specificity",
			"stream.a.b { width: 30% } .a { width: 10% } stream { width: 5%; height: 10% }",
			withClasses([]string{"a"}, []string{"b", "a"}, []string{"b"}),
			[]Box{{StreamID: "s0", W: 64, H: 48, Fit: FitCover}, {StreamID: "s1", W: 192, H: 48, Fit: FitCover}, {StreamID: "s2", W: 32, H: 48, Fit: FitCover}},
		},
		{
			"nth-of-type, first and last, selector lists",
			`stream { width: 10%; height: 10% }
			 stream:nth-of-type(2), :NTH-OF-TYPE( 4 ) { left: 50% }
			 :first-of-type, stream:last-of-type { top: 50% }`,
			cams(4),
			[]Box{
				{StreamID: "s0", X: 0, Y: 240, W: 64, H: 48, Fit: FitCover},
				{StreamID: "s1", X: 320, Y: 0, W: 64, H: 48, Fit: FitCover},
				{StreamID: "s2", X: 0, Y: 0, W: 64, H: 48, Fit: FitCover},
				{StreamID: "s3", X: 320, Y: 240, W: 64, H: 48, Fit: FitCover},
			},
		},
		{
			"display none and block",
			`stream { width: 10%; height: 10% } .hide { display: none } stream.hide.show { display: block }`,
			withClasses([]string{"hide"}, nil, []string{"show", "hide"}),
			[]Box{{StreamID: "s1", W: 64, H: 48, Fit: FitCover}, {StreamID: "s2", W: 64, H: 48, Fit: FitCover}},
		},
		{
			"px, right and bottom, z-index, object-fit",
			`stream { right: 10px; bottom: 20px; width: 100px; height: 50PX; z-index: 5; object-fit: contain }
			 stream:first-of-type { left: 0; top: 0; width: 100%; height: 100%; z-index: 0; object-fit: cover }`,
			cams(2),
			[]Box{{StreamID: "s0", W: 640, H: 480, Fit: FitCover}, {StreamID: "s1", X: 530, Y: 410, W: 100, H: 50, Z: 5, Fit: FitContain}},
		},
		{
			"paint order by z, then stream order",
			`stream { width: 10%; height: 10%; z-index: 2 } :nth-of-type(2) { z-index: -1 } :nth-of-type(3) { z-index: auto }`,
			cams(4),
			[]Box{{StreamID: "s1", W: 64, H: 48, Z: -1, Fit: FitCover}, {StreamID: "s2", W: 64, H: 48, Fit: FitCover}, {StreamID: "s0", W: 64, H: 48, Z: 2, Fit: FitCover}, {StreamID: "s3", W: 64, H: 48, Z: 2, Fit: FitCover}},
		},
		{
			"clamped to the canvas, rounded to even",
			`stream { left: -50px; top: 90%; width: 25.1%; height: 33.333%; } :nth-of-type(2) { left: 33.333%; top: 0 }`,
			cams(2),
			[]Box{{StreamID: "s0", X: 0, Y: 432, W: 110, H: 48, Fit: FitCover}, {StreamID: "s1", X: 214, Y: 0, W: 160, H: 160, Fit: FitCover}},
		},
		{
			"auto unsets",
			`stream { left: 10px; right: 0; width: 10px; height: 10px } stream { left: auto }`,
			cams(1),
			[]Box{{StreamID: "s0", X: 630, W: 10, H: 10, Fit: FitCover}},
		},
		{
			"comments, !important, unknown properties, escapes, upper case",
			`/* a layout */ STREAM/**/.a\:b { WIDTH: 50% !important; color: red; transform: rotate(1deg;2deg); content: "};{" ; Height: 50% }
			 .\31 x { left: 50% }`,
			withClasses([]string{"a:b"}, []string{"a:b", "1x"}),
			[]Box{{StreamID: "s0", W: 320, H: 240, Fit: FitCover}, {StreamID: "s1", X: 320, W: 320, H: 240, Fit: FitCover}},
		},
		{
			"escaped punctuation in class names",
			`.a\{b\,c\} { width: 10%; height: 10% }`,
			withClasses([]string{"a{b,c}"}, []string{"a"}),
			[]Box{{StreamID: "s0", W: 64, H: 48, Fit: FitCover}},
		},
		{
			"off the canvas: not shown",
			`stream { left: 100%; width: 10%; height: 10% }`,
			cams(1),
			nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := custom(t, tt.sheet)
			got := l.Place(640, 480, tt.streams)
			checkBoxes(t, got, 640, 480, tt.streams)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCustomAdjacentThirds(t *testing.T) {
	l := custom(t, `stream { top: 0; width: 33.333%; height: 100% }
		:nth-of-type(2) { left: 33.333% } :nth-of-type(3) { left: 66.667% }`)
	for _, c := range canvases {
		boxes := l.Place(c.w, c.h, cams(3))
		checkNoOverlap(t, boxes)
		if boxes[0].X+boxes[0].W != boxes[1].X || boxes[1].X+boxes[1].W != boxes[2].X || boxes[2].X+boxes[2].W != c.w {
			t.Errorf("%dx%d: thirds leave gaps: %+v", c.w, c.h, boxes)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		msg  string
		line int
		col  int
	}{
		{"unknown type", Spec{Type: "grid"}, `layout type "grid": want bestFit, pip, verticalPresentation, horizontalPresentation or custom`, 0, 0},
		{"type case", Spec{Type: "BestFit"}, `layout type "BestFit"`, 0, 0},
		{"stylesheet without custom", Spec{Type: TypePip, Stylesheet: "stream {}"}, "a layout stylesheet goes only with layout type custom, not pip", 0, 0},
		{"stylesheet with default type", Spec{Stylesheet: "stream {}"}, "a layout stylesheet goes only with layout type custom, not bestFit", 0, 0},
		{"custom without stylesheet", Spec{Type: TypeCustom}, "layout type custom needs a stylesheet", 0, 0},
		{"screenshareType with pip", Spec{Type: TypePip, ScreenshareType: TypePip}, "screenshareType goes only with layout type bestFit, not pip", 0, 0},
		{"screenshareType with custom", Spec{Type: TypeCustom, Stylesheet: "stream{}", ScreenshareType: TypePip}, "screenshareType goes only with layout type bestFit, not custom", 0, 0},
		{"screenshareType custom", Spec{ScreenshareType: TypeCustom}, `screenshareType "custom": want bestFit, pip, verticalPresentation or horizontalPresentation`, 0, 0},
		{"screenshareType unknown", Spec{Type: TypeBestFit, ScreenshareType: "focus"}, `screenshareType "focus"`, 0, 0},
		{"stylesheet too long", Spec{Type: TypeCustom, Stylesheet: strings.Repeat(" ", MaxStylesheetLen+1)}, "layout stylesheet is 10241 bytes long; the limit is 10240", 0, 0},
	}
	sheet := []struct {
		name, sheet, msg string
		line, col        int
	}{
		{"unclosed block", "stream {\n width: 10%", "this { is never closed", 1, 8},
		{"stray close", "stream { }\n}", `unexpected '}' outside a rule`, 2, 1},
		{"nested block", "stream {\n  .a { width: 1% }\n}", "unexpected { inside the block opened at line 1", 2, 6},
		{"no block", "stream", `"stream" has no { declarations } block`, 1, 1},
		{"declaration outside", "width: 10%;", `unexpected ';' after "width: 10%"`, 1, 11},
		{"unclosed comment", "stream { } /* x", "this comment is never closed", 1, 12},
		{"unclosed string", "stream { content: \"ab\n }", "this string is never closed on its line", 1, 19},
		{"at-rule", "@media screen { }", `at-rules such as "@media" are not supported`, 1, 1},
		{"descendant", "stream .a { }", `selector "stream .a": combinators (descendant, >, +, ~) are not supported`, 1, 7},
		{"child", "stream>.a { }", "combinators", 1, 7},
		{"element", "div.a { }", `selector "div.a": the only element is stream, not "div"`, 1, 1},
		{"universal", "* { }", "the only element is stream", 1, 1},
		{"id", "stream#x { }", `selector "stream#x": "#" is not supported`, 1, 7},
		{"attribute", "stream[a] { }", `"[" is not supported`, 1, 7},
		{"streamer", "streamer { }", `the only element is stream, not "streamer"`, 1, 1},
		{"pseudo", "stream:hover { }", `pseudo-class ":hover" is not supported`, 1, 7},
		{"pseudo-element", "stream::before { }", "pseudo-elements are not supported", 1, 7},
		{"nth formula", "stream:nth-of-type(2n+1) { }", `:nth-of-type(N) takes a positive integer N, not "2n+1"`, 1, 20},
		{"nth zero", "stream:nth-of-type(0) { }", "positive integer", 1, 20},
		{"nth negative", ":nth-of-type(-1) { }", "positive integer", 1, 14},
		{"nth without argument", "stream:nth-of-type { }", ":nth-of-type needs (N)", 1, 19},
		{"empty selector", "stream, { }", "empty selector", 1, 9},
		{"empty class", "stream. { }", "a class name must follow the dot", 1, 7},
		{"bad length unit", "stream {\n  width: 10em;\n}", `width: "10em" is not a length: N%, Npx, 0 or auto`, 2, 10},
		{"unitless", "stream { left: 10 }", "a number other than 0 needs a unit", 1, 16},
		{"negative width", "stream { width: -1px }", "a length of 0 or more", 1, 17},
		{"calc", "stream { height: calc(50% - 1px) }", "is not a length", 1, 18},
		{"huge", "stream { top: 10000000% }", "in the range ±1000000", 1, 15},
		{"empty value", "stream { top: ; }", "top has no value", 1, 14},
		{"bad z-index", "stream { z-index: 1.5 }", `z-index: "1.5" is not an integer or auto`, 1, 19},
		{"z-index range", "stream { z-index: 99999999999 }", "32-bit range", 1, 19},
		{"bad object-fit", "stream { object-fit: fill }", `object-fit: "fill" is not cover or contain`, 1, 22},
		{"bad display", "stream { display: flex }", `display: "flex" is not none or block`, 1, 19},
		{"no colon", "stream { width 10% }", `declaration "width 10%" has no colon`, 1, 10},
		{"bad property name", "stream { 1w: 10% }", `"1w" is not a property name`, 1, 10},
		{"line and column count characters", "/* é */\n  é { }", `the only element is stream, not "é"`, 2, 3},
		{"not UTF-8", "stream { }\n\xff", "not valid UTF-8", 2, 1},
		{"dangling backslash", "stream.a\\\n{ }", "a backslash must escape a character", 1, 9},
		{"comment then space", "stream/* x */ .a { }", "combinators", 1, 14},
	}
	for _, s := range sheet {
		tests = append(tests, struct {
			name string
			spec Spec
			msg  string
			line int
			col  int
		}{"stylesheet: " + s.name, Spec{Type: TypeCustom, Stylesheet: s.sheet}, s.msg, s.line, s.col})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse(%+v) = %v, want an error", tt.spec, l)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("message %q, want it to hold %q", e.Msg, tt.msg)
			}
			if e.Line != tt.line || e.Column != tt.col {
				t.Errorf("at line %d column %d, want %d, %d (%v)", e.Line, e.Column, tt.line, tt.col, err)
			}
			if tt.line > 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("layout stylesheet, line %d, column %d: ", tt.line, tt.col)) {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, spec := range []Spec{
		{},
		{Type: TypeBestFit, ScreenshareType: TypeVerticalPresentation},
		{ScreenshareType: TypePip},
		{Type: TypeCustom, Stylesheet: "/* nothing */"},
		{Type: TypeCustom, Stylesheet: strings.Repeat(" ", MaxStylesheetLen)},
		{Type: TypeCustom, Stylesheet: "stream { position: relative; float: left; width: 0; height: 0 }"},
	} {
		l, err := Parse(spec)
		if err != nil {
			t.Errorf("Parse(%+v): %v", spec, err)
			continue
		}
		want := spec
		if want.Type == "" {
			want.Type = TypeBestFit
		}
		if l.Spec() != want {
			t.Errorf("Spec() = %+v, want %+v", l.Spec(), want)
		}
	}
}

// fuzzStreams makes n streams (at most 8) whose classes and video types
// come from bits.
func fuzzStreams(n uint8, bits uint64) []Stream {
	streams := make([]Stream, n%9)
	names := []string{"focus", "full", "a", "b"}
	for i := range streams {
		streams[i] = Stream{ID: fmt.Sprintf("s%d", i), VideoType: "camera"}
		b := bits >> (i * 6)
		if b&1 != 0 {
			streams[i].VideoType = "screen"
		}
		for k, name := range names {
			if b>>(k+1)&1 != 0 {
				streams[i].Classes = append(streams[i].Classes, name)
			}
		}
	}
	return streams
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"stream { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }",
		"stream.focus { width: 50%; height: 50%; z-index: 3 } .a.b:nth-of-type(2) { right: 10px; bottom: 5px; width: 30px; height: 10% }",
		"/* c */ stream:first-of-type, :last-of-type { display: none; object-fit: contain } .\\31 x { left: -5.5% }",
		"stream { content: \"};{\"; width: 1px !important; height: 3px }",
		"stream {",
		"@media x {}",
	} {
		f.Add(s, uint16(640), uint16(480), uint8(3), uint64(0x2a5))
	}
	f.Fuzz(func(t *testing.T, sheet string, w, h uint16, n uint8, bits uint64) {
		l, err := Parse(Spec{Type: TypeCustom, Stylesheet: sheet})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		width, height := int(w%2000), int(h%2000)
		streams := fuzzStreams(n, bits)
		checkBoxes(t, l.Place(width, height, streams), width, height, streams)
	})
}

func FuzzPlace(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint16(640), uint16(480), uint8(5), uint64(0x41))
	f.Add(uint8(1), uint8(3), uint16(1281), uint16(7), uint8(8), uint64(0xffff))
	types := []string{TypeBestFit, TypePip, TypeVerticalPresentation, TypeHorizontalPresentation}
	f.Fuzz(func(t *testing.T, typ, share uint8, w, h uint16, n uint8, bits uint64) {
		spec := Spec{Type: types[typ%4]}
		if share%5 < 4 && spec.Type == TypeBestFit {
			spec.ScreenshareType = types[share%5]
		}
		l := mustParse(t, spec)
		width, height := int(w%4000), int(h%4000)
		streams := fuzzStreams(n, bits)
		boxes := l.Place(width, height, streams)
		checkBoxes(t, boxes, width, height, streams)
		for i := range boxes {
			for j := i + 1; j < len(boxes); j++ {
				if overlap(boxes[i], boxes[j]) && boxes[i].Z == boxes[j].Z {
					t.Fatalf("%+v on %dx%d: boxes %+v and %+v overlap", spec, width, height, boxes[i], boxes[j])
				}
			}
		}
	})
}
