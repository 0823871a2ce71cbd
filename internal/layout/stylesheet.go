package layout

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// stylesheet is a parsed custom stylesheet: its rules in source order.
type stylesheet struct{ rules []rule }

type rule struct {
	selectors []selector
	decls     []decl
}

// selector is a compound selector: all its conditions must hold.
type selector struct {
	classes     []string
	first, last bool
	nth         []int // 1-based positions the stream must have
	specificity int
}

// property is a known property.
type property int

const (
	propLeft property = iota
	propTop
	propRight
	propBottom
	propWidth
	propHeight
	propZIndex
	propObjectFit
	propDisplay
)

var properties = map[string]property{
	"left": propLeft, "top": propTop, "right": propRight, "bottom": propBottom,
	"width": propWidth, "height": propHeight, "z-index": propZIndex,
	"object-fit": propObjectFit, "display": propDisplay,
}

// length is a parsed length; the zero value is unset (auto).
type length struct {
	set     bool
	percent bool
	v       float64
}

// resolve is l in pixels against a side of size px.
func (l length) resolve(px int) float64 {
	if l.percent {
		return l.v * float64(px) / 100
	}
	return l.v
}

// decl is a declaration of a known property.
type decl struct {
	prop   property
	length length // left .. height
	z      int    // z-index
	fit    string // object-fit
	hidden bool   // display
}

// maxLength bounds the magnitude of a length, keeping arithmetic finite.
const maxLength = 1_000_000

// parser reads one stylesheet; clean is src with comments blanked and
// string contents masked, byte for byte, so that offsets into clean are
// offsets into src.
type parser struct {
	src, clean string
	comment    []bool // comment[i]: byte i of src is in a comment
}

// fail is a stylesheet error at byte offset off of the source.
func (p *parser) fail(off int, format string, args ...any) error {
	before := p.src[:off]
	line := strings.Count(before, "\n") + 1
	col := utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
	return &Error{Msg: fmt.Sprintf(format, args...), Line: line, Column: col}
}

// quote is the source text src[from:to], trimmed, quoted and shortened
// for a message.
func (p *parser) quote(from, to int) string {
	s := strings.TrimSpace(p.src[from:to])
	if utf8.RuneCountInString(s) > 60 {
		r := []rune(s)
		s = string(r[:57]) + "..."
	}
	return strconv.Quote(s)
}

func parseStylesheet(src string) (*stylesheet, error) {
	if len(src) > MaxStylesheetLen {
		return nil, refuse("layout stylesheet is %d bytes long; the limit is %d", len(src), MaxStylesheetLen)
	}
	p := &parser{src: src}
	if !utf8.ValidString(src) {
		i := 0
		for i < len(src) {
			r, size := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		return nil, p.fail(i, "the stylesheet is not valid UTF-8")
	}
	if err := p.blank(); err != nil {
		return nil, err
	}
	sheet := &stylesheet{}
	s := p.clean
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return sheet, nil
		}
		start := i
		if s[i] == '@' {
			end := i + 1
			for end < len(s) && isIdentByte(s[end]) {
				end++
			}
			return nil, p.fail(i, "at-rules such as %s are not supported", p.quote(i, end))
		}
		for i < len(s) && s[i] != '{' {
			if s[i] == '}' || s[i] == ';' {
				if start == i {
					return nil, p.fail(i, "unexpected %q outside a rule: a rule is selectors { declarations }", s[i])
				}
				return nil, p.fail(i, "unexpected %q after %s: a rule is selectors { declarations }", s[i], p.quote(start, i))
			}
			i++
		}
		if i == len(s) {
			return nil, p.fail(start, "%s has no { declarations } block", p.quote(start, i))
		}
		sels, err := p.selectors(start, i)
		if err != nil {
			return nil, err
		}
		open := i
		i++
		bodyStart := i
		for i < len(s) && s[i] != '}' {
			if s[i] == '{' {
				return nil, p.fail(i, "unexpected { inside the block opened at line %s: blocks do not nest", p.lineOf(open))
			}
			i++
		}
		if i == len(s) {
			return nil, p.fail(open, "this { is never closed")
		}
		decls, err := p.declarations(bodyStart, i)
		if err != nil {
			return nil, err
		}
		sheet.rules = append(sheet.rules, rule{selectors: sels, decls: decls})
		i++
	}
}

func (p *parser) inComment(i int) bool { return p.comment != nil && p.comment[i] }

func (p *parser) lineOf(off int) string {
	return strconv.Itoa(strings.Count(p.src[:off], "\n") + 1)
}

// blank fills p.clean: comments become spaces (new lines kept), and the
// contents of strings and escaped punctuation become underscores, so that
// no brace, semicolon or comma in them is taken for structure.
func (p *parser) blank() error {
	src := p.src
	b := []byte(src)
	for i := 0; i < len(src); {
		switch {
		case src[i] == '\\':
			if i+1 < len(src) && src[i+1] < utf8.RuneSelf && !isSpace(src[i+1]) && !isHex(src[i+1]) {
				b[i+1] = '_' // an escaped brace or comma is no structure
			}
			i += 2
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return p.fail(i, "this comment is never closed")
			}
			end += i + 4
			if p.comment == nil {
				p.comment = make([]bool, len(src))
			}
			for j := i; j < end; j++ {
				p.comment[j] = true
				if b[j] != '\n' {
					b[j] = ' '
				}
			}
			i = end
		case src[i] == '"' || src[i] == '\'':
			q, start := src[i], i
			i++
			for ; i < len(src) && src[i] != q; i++ {
				switch src[i] {
				case '\n':
					return p.fail(start, "this string is never closed on its line")
				case '\\':
					b[i] = '_'
					i++
					if i < len(src) && src[i] == '\n' {
						continue // an escaped new line continues the string
					}
				}
				if i < len(src) {
					b[i] = '_'
				}
			}
			if i == len(src) {
				return p.fail(start, "this string is never closed")
			}
			i++
		default:
			i++
		}
	}
	p.clean = string(b)
	return nil
}

// splitTop splits s[from:to] of the clean text at sep outside parentheses,
// returning the bounds of each part.
func (p *parser) splitTop(from, to int, sep byte) [][2]int {
	var parts [][2]int
	depth, start := 0, from
	for i := from; i < to; i++ {
		switch c := p.clean[i]; {
		case c == '\\':
			i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == sep && depth == 0:
			parts = append(parts, [2]int{start, i})
			start = i + 1
		}
	}
	return append(parts, [2]int{start, to})
}

// trim narrows [from, to) of the clean text to exclude white space.
func (p *parser) trim(from, to int) (int, int) {
	for from < to && isSpace(p.clean[from]) {
		from++
	}
	for to > from && isSpace(p.clean[to-1]) {
		to--
	}
	return from, to
}

const subset = "use stream, .class, :first-of-type, :last-of-type and :nth-of-type(N), joined without spaces"

// selectors parses the selector list in [from, to).
func (p *parser) selectors(from, to int) ([]selector, error) {
	var out []selector
	for _, part := range p.splitTop(from, to, ',') {
		a, b := p.trim(part[0], part[1])
		if a == b {
			return nil, p.fail(a, "empty selector in %s", p.quote(from, to))
		}
		sel, err := p.selector(a, b)
		if err != nil {
			return nil, err
		}
		out = append(out, sel)
	}
	return out, nil
}

// selector parses one compound selector in [from, to), trimmed.
func (p *parser) selector(from, to int) (selector, error) {
	s := p.clean[:to]
	var sel selector
	i := from
	if i+6 <= to && asciiEqualFold(s[i:i+6], "stream") && (i+6 == to || !isIdentByte(s[i+6])) {
		i += 6
	} else if i < to && (isIdentByte(s[i]) || s[i] == '*') {
		end := i + 1
		for end < to && isIdentByte(s[end]) {
			end++
		}
		return sel, p.fail(i, "selector %s: the only element is stream, not %s", p.quote(from, to), p.quote(i, end))
	}
	for i < to {
		switch c := s[i]; {
		case c == '.':
			name, next, err := p.ident(i+1, to)
			if err != nil {
				return sel, err
			}
			if name == "" {
				return sel, p.fail(i, "selector %s: a class name must follow the dot", p.quote(from, to))
			}
			sel.classes = append(sel.classes, name)
			i = next
		case c == ':':
			if i+1 < to && s[i+1] == ':' {
				return sel, p.fail(i, "selector %s: pseudo-elements are not supported; %s", p.quote(from, to), subset)
			}
			name, next, err := p.ident(i+1, to)
			if err != nil {
				return sel, err
			}
			switch strings.ToLower(name) {
			case "first-of-type":
				sel.first = true
			case "last-of-type":
				sel.last = true
			case "nth-of-type":
				if next >= to || s[next] != '(' {
					return sel, p.fail(next, "selector %s: :nth-of-type needs (N)", p.quote(from, to))
				}
				end := strings.IndexByte(s[next:], ')')
				if end < 0 {
					return sel, p.fail(next, "selector %s: ( is never closed", p.quote(from, to))
				}
				end += next
				a, b := p.trim(next+1, end)
				n, err := strconv.ParseInt(s[a:b], 10, 32)
				if !integer.MatchString(s[a:b]) || err != nil || n < 1 {
					return sel, p.fail(a, "selector %s: :nth-of-type(N) takes a positive integer N, not %s", p.quote(from, to), p.quote(next+1, end))
				}
				sel.nth = append(sel.nth, int(n))
				next = end + 1
			default:
				return sel, p.fail(i, "selector %s: pseudo-class %s is not supported; %s", p.quote(from, to), p.quote(i, next), subset)
			}
			sel.specificity++
			i = next
		case p.inComment(i):
			i++ // a comment separates nothing
		case isSpace(c) || c == '>' || c == '+' || c == '~':
			return sel, p.fail(i, "selector %s: combinators (descendant, >, +, ~) are not supported; %s", p.quote(from, to), subset)
		default:
			return sel, p.fail(i, "selector %s: %q is not supported; %s", p.quote(from, to), p.src[i:i+utf8RuneLen(p.src[i:])], subset)
		}
	}
	sel.specificity += len(sel.classes)
	return sel, nil
}

func utf8RuneLen(s string) int {
	_, n := utf8.DecodeRuneInString(s)
	return max(n, 1)
}

// ident reads a CSS identifier at i, decoding escapes from the source
// text; it returns the name and the offset after it.
func (p *parser) ident(i, to int) (string, int, error) {
	s := p.src[:to]
	var b strings.Builder
	for i < to {
		c := s[i]
		switch {
		case isIdentByte(c):
			b.WriteByte(c)
			i++
		case c == '\\':
			if i+1 >= to || s[i+1] == '\n' || s[i+1] == '\r' || s[i+1] == '\f' {
				return "", i, p.fail(i, "a backslash must escape a character")
			}
			j := i + 1
			for j < to && j < i+7 && isHex(s[j]) {
				j++
			}
			if j == i+1 {
				// A literal character, which may take several bytes.
				n := utf8RuneLen(s[j:])
				b.WriteString(s[j : j+n])
				i = j + n
				continue
			}
			v, _ := strconv.ParseUint(s[i+1:j], 16, 32)
			r := rune(v)
			if v == 0 || v > utf8.MaxRune || (r >= 0xD800 && r <= 0xDFFF) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
			if j < to && isSpace(s[j]) {
				j++ // the white space that ends a hex escape is part of it
			}
			i = j
		default:
			return b.String(), i, nil
		}
	}
	return b.String(), i, nil
}

// declarations parses the declarations in [from, to).
func (p *parser) declarations(from, to int) ([]decl, error) {
	var out []decl
	for _, part := range p.splitTop(from, to, ';') {
		a, b := p.trim(part[0], part[1])
		if a == b {
			continue
		}
		colon := strings.IndexByte(p.clean[a:b], ':')
		if colon < 0 {
			return nil, p.fail(a, "declaration %s has no colon: write property: value", p.quote(a, b))
		}
		na, nb := p.trim(a, a+colon)
		name := strings.ToLower(p.clean[na:nb])
		if !propertyName.MatchString(name) {
			return nil, p.fail(a, "%s is not a property name", p.quote(na, nb))
		}
		prop, known := properties[name]
		if name == "position" || !known {
			continue // unknown properties are ignored, and position has one value here
		}
		va, vb := p.trim(a+colon+1, b)
		if m := important.FindStringIndex(p.clean[va:vb]); m != nil {
			va, vb = p.trim(va, va+m[0])
		}
		d, err := p.value(prop, name, va, vb)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

var (
	propertyName = regexp.MustCompile(`^-*[a-z_][a-z0-9_-]*$`)
	important    = regexp.MustCompile(`(?i)!\s*important$`)
	number       = regexp.MustCompile(`^([+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))(%|px)?$`)
	integer      = regexp.MustCompile(`^[+-]?[0-9]+$`)
)

// value parses the value in [from, to) of the known property prop.
func (p *parser) value(prop property, name string, from, to int) (decl, error) {
	d := decl{prop: prop}
	v := strings.ToLower(p.clean[from:to])
	if v == "" {
		return d, p.fail(from, "%s has no value", name)
	}
	bad := func(want string) error {
		return p.fail(from, "%s: %s is not %s", name, p.quote(from, to), want)
	}
	switch prop {
	case propZIndex:
		if v == "auto" {
			return d, nil
		}
		if !integer.MatchString(v) {
			return d, bad("an integer or auto")
		}
		z, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return d, bad("an integer in the 32-bit range")
		}
		d.z = int(z)
	case propObjectFit:
		if v != FitCover && v != FitContain {
			return d, bad("cover or contain")
		}
		d.fit = v
	case propDisplay:
		if v != "none" && v != "block" {
			return d, bad("none or block")
		}
		d.hidden = v == "none"
	default:
		if v == "auto" {
			return d, nil
		}
		m := number.FindStringSubmatch(v)
		if m == nil {
			return d, bad("a length: N%, Npx, 0 or auto")
		}
		f, err := strconv.ParseFloat(m[1], 64)
		if err != nil || math.Abs(f) > maxLength {
			return d, bad(fmt.Sprintf("in the range ±%d", maxLength))
		}
		if m[2] == "" && f != 0 {
			return d, bad("a length: a number other than 0 needs a unit, % or px")
		}
		if f < 0 && (prop == propWidth || prop == propHeight) {
			return d, bad("a length of 0 or more")
		}
		d.length = length{set: true, percent: m[2] == "%", v: f}
	}
	return d, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// isIdentByte reports whether c may be part of a CSS identifier; bytes of
// non-ASCII characters are.
func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= utf8.RuneSelf
}

// asciiEqualFold reports whether s equals the lower-case ASCII word w,
// ignoring the case of ASCII letters.
func asciiEqualFold(s, w string) bool {
	if len(s) != len(w) {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
