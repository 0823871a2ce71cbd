// Package layout places the streams of a composed archive or broadcast on
// its picture: the canvas, width×height pixels, gets one box per stream
// shown. It is OpenTok's "layout" ({"type", "stylesheet",
// "screenshareType"} in the REST API), computed without I/O: Parse checks a
// Spec once, Place turns it and the current streams into boxes as often as
// the streams change.
//
// # Boxes
//
// Every box has even X, Y, W and H (yuv420 pictures have 2×2 chroma
// blocks), lies inside the canvas and is at least 2×2. An odd canvas
// dimension loses its last pixel row or column; a canvas narrower or lower
// than 2 pixels, or wider or higher than MaxSide, shows nothing. A box that
// would come out smaller than 2×2 is left out. Place returns the boxes in
// paint order: by Z, then by stream order. Fit says how the stream's picture
// fills its box: FitCover scales it to cover the box and crops what
// overflows, FitContain scales it to fit whole and letterboxes. In the
// predefined layouts screen shares (VideoType "screen") are FitContain and
// every other stream FitCover. In every predefined layout the boxes of the
// shown streams never overlap, except pip's corner box, painted on top.
//
// # Predefined layouts
//
// Below, W and H are the canvas size (even), n the number of streams, and
// even(x) is x rounded down to an even number.
//
// bestFit (also the type "") tiles every stream in a grid, in stream order,
// row by row. All tiles have one size: the largest tile of the grid's
// aspect ratio, 4:3, or 16:9 when every stream is a screen share, that
// fits a cell of W/cols × H/rows; the side the cell limits is the cell's,
// rounded down to even, the other follows from the aspect ratio, rounded
// down to even. Of the
// grids of 1 to n columns (rows = ⌈n/cols⌉) the one whose tile has the
// largest area wins; on a tie, the one with more columns on a landscape or
// square canvas, with more rows on a portrait one. The grid is centred on
// the canvas, and a last row that is not full is centred on its own. Z is 0.
// Layout classes play no part. For example 1 stream on 1280×720 is a
// 960×720 tile at x=160; 2 streams on 640×480 are two 320×240 tiles side by
// side at y=120; 3 streams on 640×480 are a 2×2 grid of 320×240 tiles whose
// last row holds one tile at x=160.
//
// pip (picture in picture) shows two streams. The full stream, the first
// stream whose class list holds "full" or "focus", else the first stream,
// covers the canvas (0, 0, W, H) at Z 0. The first other stream, in stream
// order, takes the lower right corner at Z 1: a box of even(W/4) × even(H/4)
// whose right and bottom edges are a margin m = even(min(W, H)/32) from the
// canvas edges (on 640×480: 160×120 at 466, 346). Further streams are not
// shown.
//
// verticalPresentation puts the focus stream on the right and the others
// in a column along the left edge. The focus stream is the first stream
// whose class list holds "focus" or "full", else the first screen share,
// else the first stream. Alone it covers the canvas. Otherwise the column
// is c = even(W/6) wide and the focus stream takes (c, 0, W−c, H). The k
// other streams, in stream order, are stacked top to bottom, each c wide and
// min(even(H/k), even(c·3/4)) high, the stack centred vertically. Z is 0.
//
// horizontalPresentation puts the focus stream (chosen as for
// verticalPresentation) at the top and the others in a row along the bottom
// edge. Alone it covers the canvas. Otherwise the row is r = even(H/6) high
// and the focus stream takes (0, 0, W, H−r). The k other streams, in stream
// order, sit left to right, each r high and min(even(W/k), even(r·4/3))
// wide, the row centred horizontally. Z is 0.
//
// # Screen sharing
//
// screenshareType, allowed only with bestFit, names a predefined layout
// (bestFit, pip, verticalPresentation or horizontalPresentation) used
// instead of bestFit while at least one stream is a screen share; the first
// screen share, in stream order, is then the focus (or full) stream whatever
// the class lists say.
//
// # Custom stylesheets
//
// The custom type takes a CSS stylesheet of at most MaxStylesheetLen bytes
// of UTF-8, a list of rules "selectors { declarations }". Comments /* … */
// may go anywhere between tokens. Anything outside this subset, unbalanced
// braces, a nested block, an unterminated comment or string, and a bad value
// of a known property make Parse fail with the line and column of the fault.
//
// Selectors, several per rule separated by commas, are compound selectors
// without combinators:
//
//	stream                  every stream
//	.a  stream.a            streams whose class list holds a
//	.a.b  stream.a.b        streams whose class list holds a and b
//	:first-of-type          the first stream (in stream order)
//	:last-of-type           the last stream
//	:nth-of-type(N)         the Nth stream, N a positive integer (1 is the first)
//
// Pseudo-classes combine with the rest, as in stream.guest:nth-of-type(2).
// The type selector and the pseudo-class names are case-insensitive, class
// names are not; a class name may use CSS escapes (\: or \3A for ":").
// Streams are counted over every stream given to Place, shown or not.
//
// Declarations, "property: value" separated by semicolons, use these
// properties; property names and keywords are case-insensitive:
//
//	position                 any value; accepted and ignored (boxes are always absolute)
//	left, right, width       a length: N% of the canvas width, Npx, 0, or auto (unset)
//	top, bottom, height      a length: N% of the canvas height, Npx, 0, or auto (unset)
//	z-index                  an integer, or auto (0); higher is painted later
//	object-fit               cover (the default) or contain
//	display                  none hides the stream, block shows it
//
// N may have a sign and a fraction (12.5%), at most 1000000 in magnitude;
// width and height may not be negative. A trailing !important is accepted
// and has no effect. Other properties are ignored, whatever their value.
//
// For each stream, the rules with a selector that matches it apply in
// order of specificity, then of their place in the stylesheet; the last
// value given to a property wins. A selector's specificity is its number of
// classes plus its number of pseudo-classes (a bare stream counts 0); a rule
// whose list has several matching selectors counts with the highest. A stream
// is shown when, after this cascade, it has a width and a height and is not
// display: none. Its box is width × height at left (or, without left, its
// right edge at right from the canvas's right edge; with neither, at 0), and
// likewise top, bottom and height. The box is then cut to the canvas and its
// edges rounded to the nearest even pixel.
package layout

import (
	"errors"
	"fmt"
	"slices"
)

// The layout types of a Spec.
const (
	TypeBestFit                = "bestFit"
	TypePip                    = "pip"
	TypeVerticalPresentation   = "verticalPresentation"
	TypeHorizontalPresentation = "horizontalPresentation"
	TypeCustom                 = "custom"
)

// The values of Box.Fit.
const (
	FitCover   = "cover"   // fill the box, cropping the picture
	FitContain = "contain" // the whole picture, letterboxed
)

// Limits of Parse and Place.
const (
	// MaxStylesheetLen is the longest custom stylesheet, in bytes.
	MaxStylesheetLen = 10 << 10
	// MaxSide is the widest and highest canvas Place lays out.
	MaxSide = 16384
)

// Spec is a layout as the OpenTok REST API gives it:
// {"type":..., "stylesheet":..., "screenshareType":...}.
type Spec struct {
	// Type is bestFit (the default when ""), pip, verticalPresentation,
	// horizontalPresentation or custom.
	Type string `json:"type"`
	// Stylesheet goes with custom, and only with custom.
	Stylesheet string `json:"stylesheet,omitempty"`
	// ScreenshareType goes only with bestFit: the layout used while a
	// screen-share stream is present, with the screen as the focus.
	ScreenshareType string `json:"screenshareType,omitempty"`
}

// Stream is one stream to place, in the order the streams joined the
// recording.
type Stream struct {
	// ID is the stream's id, copied to its Box.
	ID string
	// VideoType is "camera", "screen" or "custom".
	VideoType string
	// Classes is the stream's layout class list (e.g. "focus", "full").
	Classes []string
}

// Box is where a stream's picture goes: a pixel rectangle on the canvas,
// the paint order, and how the picture fills it.
type Box struct {
	// StreamID is the ID of the Stream placed.
	StreamID string
	// X, Y, W and H are even, the box lies inside the canvas, W and H are
	// at least 2.
	X, Y, W, H int
	// Z is the paint order: higher is painted later, on top.
	Z int
	// Fit is FitCover or FitContain.
	Fit string
}

// Layout is a parsed, valid Spec. It is immutable: one Layout may serve
// any number of goroutines.
type Layout struct {
	spec  Spec
	sheet *stylesheet // custom only
}

// ErrInvalid is wrapped by every error of Parse.
var ErrInvalid = errors.New("invalid layout")

// Error is Parse's refusal of a Spec. Its message is written for the
// caller of the REST API; errors.Is(err, ErrInvalid) holds.
type Error struct {
	Msg string
	// Line and Column (1-based, the column counted in characters) locate a
	// fault in the stylesheet; both are 0 for other faults.
	Line, Column int
}

// Error returns the message, after the place in the stylesheet when it has
// one.
func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("layout stylesheet, line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

func refuse(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

var predefined = []string{TypeBestFit, TypePip, TypeVerticalPresentation, TypeHorizontalPresentation}

// Parse validates spec as OpenTok does and parses its stylesheet. The
// error, an *Error wrapping ErrInvalid, says what is wrong.
func Parse(spec Spec) (*Layout, error) {
	if spec.Type == "" {
		spec.Type = TypeBestFit
	}
	switch {
	case spec.Type != TypeCustom && !slices.Contains(predefined, spec.Type):
		return nil, refuse("layout type %q: want bestFit, pip, verticalPresentation, horizontalPresentation or custom", spec.Type)
	case spec.Type == TypeCustom && spec.Stylesheet == "":
		return nil, refuse("layout type custom needs a stylesheet")
	case spec.Type != TypeCustom && spec.Stylesheet != "":
		return nil, refuse("a layout stylesheet goes only with layout type custom, not %s", spec.Type)
	case spec.ScreenshareType != "" && spec.Type != TypeBestFit:
		return nil, refuse("screenshareType goes only with layout type bestFit, not %s", spec.Type)
	case spec.ScreenshareType != "" && !slices.Contains(predefined, spec.ScreenshareType):
		return nil, refuse("screenshareType %q: want bestFit, pip, verticalPresentation or horizontalPresentation", spec.ScreenshareType)
	}
	l := &Layout{spec: spec}
	if spec.Type == TypeCustom {
		sheet, err := parseStylesheet(spec.Stylesheet)
		if err != nil {
			return nil, err
		}
		l.sheet = sheet
	}
	return l, nil
}

// Spec returns the Spec l was parsed from, its Type filled in when it was
// empty.
func (l *Layout) Spec() Spec { return l.spec }

// Place returns the boxes of the streams shown on a width×height canvas,
// sorted by Z then by stream order (paint order). Streams the layout does
// not show are left out; no streams, or a canvas outside 2..MaxSide on
// either side, give no boxes. The same input always gives the same boxes.
func (l *Layout) Place(width, height int, streams []Stream) []Box {
	if len(streams) == 0 || width < 2 || height < 2 || width > MaxSide || height > MaxSide {
		return nil
	}
	c := canvas{w: even(width), h: even(height)}
	var placed []placement
	switch kind, focus := l.effective(streams); kind {
	case TypeCustom:
		placed = l.sheet.place(c, streams)
	case TypePip:
		placed = pip(c, streams, focus)
	case TypeVerticalPresentation:
		placed = vertical(c, streams, focus)
	case TypeHorizontalPresentation:
		placed = horizontal(c, streams, focus)
	default:
		placed = bestFit(c, streams)
	}
	placed = slices.DeleteFunc(placed, func(p placement) bool { return p.W < 2 || p.H < 2 })
	slices.SortStableFunc(placed, func(a, b placement) int {
		if a.Z != b.Z {
			return a.Z - b.Z
		}
		return a.order - b.order
	})
	if len(placed) == 0 {
		return nil
	}
	boxes := make([]Box, len(placed))
	for i, p := range placed {
		boxes[i] = p.Box
	}
	return boxes
}

// effective returns the layout type in force for streams and the index of
// the focus stream it imposes, or -1 when the type chooses its own.
func (l *Layout) effective(streams []Stream) (kind string, focus int) {
	if l.spec.ScreenshareType != "" {
		if i := slices.IndexFunc(streams, isScreen); i >= 0 {
			return l.spec.ScreenshareType, i
		}
	}
	return l.spec.Type, -1
}

// canvas is the even-sized picture boxes are placed on.
type canvas struct{ w, h int }

// placement is a box and the index of its stream, for the paint order.
type placement struct {
	Box
	order int
}

// even rounds v >= 0 down to an even number.
func even(v int) int { return v &^ 1 }

func isScreen(s Stream) bool { return s.VideoType == "screen" }

// fitOf is the Fit of a stream in the predefined layouts.
func fitOf(s Stream) string {
	if isScreen(s) {
		return FitContain
	}
	return FitCover
}
