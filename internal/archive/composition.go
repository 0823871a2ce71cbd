package archive

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/layout"
	"github.com/parleyhq/parley/internal/session"
)

// A composed archive is recorded as an individual one — each stream into
// its own file, straight from the SFU's packets — plus a composition: the
// journal of what the picture should show when (the layout and its
// changes, the streams' layout classes, their video going off and on).
// When the recording stops, ffmpeg lays the files out by the composition
// into one MP4 (H.264 + AAC). Nothing is decoded while the session runs,
// a slow machine delays the MP4 but never spoils it, and a crashed
// recording is composed at the next start from what is on disk.

// compositionName is the composition's journal in an archive's working
// folder.
const compositionName = "composition.json"

// composition is what a composed archive's picture shows over time; times
// are in milliseconds after the archive's start.
type composition struct {
	ID                    string        `json:"id"`
	Width                 int           `json:"width"`
	Height                int           `json:"height"`
	HasAudio              bool          `json:"hasAudio"`
	HasVideo              bool          `json:"hasVideo"`
	MaxBitrate            int           `json:"maxBitrate,omitempty"`
	QuantizationParameter int           `json:"quantizationParameter,omitempty"`
	Layouts               []timedLayout `json:"layouts"`
	Classes               []timedClass  `json:"classes"`
	Video                 []timedVideo  `json:"video"`
	// StoppedAt is when the recording stopped; 0 while it records (or
	// when it crashed: the files' ends tell then).
	StoppedAt int64 `json:"stoppedAt,omitempty"`
}

type timedLayout struct {
	At     int64       `json:"at"`
	Layout layout.Spec `json:"layout"`
}

type timedClass struct {
	At       int64    `json:"at"`
	StreamID string   `json:"streamId"`
	Classes  []string `json:"classes"`
}

type timedVideo struct {
	At       int64  `json:"at"`
	StreamID string `json:"streamId"`
	On       bool   `json:"on"`
}

// parseResolution splits "WxH"; "" is OpenTok's default, 640x480.
func parseResolution(r string) (w, h int) {
	if r == "" {
		return 640, 480
	}
	ws, hs, _ := strings.Cut(r, "x")
	w, _ = strconv.Atoi(ws)
	h, _ = strconv.Atoi(hs)
	return w, h
}

func readComposition(b []byte) (composition, error) {
	var c composition
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("composition: %w", err)
	}
	if !resolutions[fmt.Sprintf("%dx%d", c.Width, c.Height)] {
		return c, fmt.Errorf("composition: resolution %dx%d", c.Width, c.Height)
	}
	for _, l := range c.Layouts {
		if _, err := layout.Parse(l.Layout); err != nil {
			return c, fmt.Errorf("composition: %w", err)
		}
	}
	return c, nil
}

// placement is one file's picture in one box, over some stretches of
// time.
type placement struct {
	file  int
	box   layout.Box
	spans [][2]int64 // [from, to) in ms
}

// compositionPlan is how ffmpeg builds the MP4: which files, and where
// each one's picture goes when.
type compositionPlan struct {
	c          composition
	files      []manifestFile
	durationMs int64
	placements []placement
}

// plan lays the files out over time. files are the archive's recorded
// files in the order they started.
func (c composition) plan(files []manifestFile) compositionPlan {
	p := compositionPlan{c: c, files: files, durationMs: c.StoppedAt}
	if p.durationMs <= 0 {
		for _, f := range files {
			p.durationMs = max(p.durationMs, f.StopTimeOffset)
		}
	}
	if !c.HasVideo {
		return p
	}
	cuts := []int64{0, p.durationMs}
	for _, f := range files {
		cuts = append(cuts, f.StartTimeOffset, f.StopTimeOffset)
	}
	for _, l := range c.Layouts {
		cuts = append(cuts, l.At)
	}
	for _, e := range c.Classes {
		cuts = append(cuts, e.At)
	}
	for _, e := range c.Video {
		cuts = append(cuts, e.At)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)

	layouts := map[int]*layout.Layout{}
	layoutAt := func(t int64) *layout.Layout {
		i := -1
		for j, l := range c.Layouts {
			if l.At <= t {
				i = j
			}
		}
		if l, ok := layouts[i]; ok {
			return l
		}
		spec := layout.Spec{Type: "bestFit"}
		if i >= 0 {
			spec = c.Layouts[i].Layout
		}
		l, err := layout.Parse(spec)
		if err != nil {
			l, _ = layout.Parse(layout.Spec{Type: "bestFit"})
		}
		layouts[i] = l
		return l
	}
	classesAt := func(streamID string, t int64) []string {
		var out []string
		for _, e := range c.Classes {
			if e.StreamID == streamID && e.At <= t {
				out = e.Classes
			}
		}
		return out
	}
	videoAt := func(streamID string, t int64) bool {
		on := true
		for _, e := range c.Video {
			if e.StreamID == streamID && e.At <= t {
				on = e.On
			}
		}
		return on
	}
	index := map[string]int{} // "file/x/y/w/h/z/fit" -> placement
	for k := 0; k+1 < len(cuts); k++ {
		from, to := cuts[k], cuts[k+1]
		if from >= p.durationMs {
			break
		}
		var streams []layout.Stream
		var which []int
		for i, f := range files {
			if !f.HasVideo || f.StartTimeOffset > from || f.StopTimeOffset < to {
				continue
			}
			streams = append(streams, layout.Stream{ID: strconv.Itoa(i), VideoType: f.VideoType,
				Classes: classesAt(f.StreamID, from)})
			which = append(which, i)
		}
		for _, b := range layoutAt(from).Place(c.Width, c.Height, streams) {
			i, err := strconv.Atoi(b.StreamID)
			if err != nil || !slices.Contains(which, i) || !videoAt(files[i].StreamID, from) {
				continue
			}
			key := fmt.Sprintf("%d/%d/%d/%d/%d/%d/%s", i, b.X, b.Y, b.W, b.H, b.Z, b.Fit)
			j, ok := index[key]
			if !ok {
				j = len(p.placements)
				index[key] = j
				p.placements = append(p.placements, placement{file: i, box: b})
			}
			pl := &p.placements[j]
			if n := len(pl.spans); n > 0 && pl.spans[n-1][1] == from {
				pl.spans[n-1][1] = to
			} else {
				pl.spans = append(pl.spans, [2]int64{from, to})
			}
		}
	}
	// Paint order: by Z, then as the layout listed them.
	slices.SortStableFunc(p.placements, func(a, b placement) int { return a.box.Z - b.box.Z })
	return p
}

// secs formats milliseconds as ffmpeg seconds.
func secs(ms int64) string {
	return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
}

// fps of composed archives.
const composedFPS = 25

// args returns ffmpeg's arguments that compose the plan from the files
// in dir into out (an MP4), with the filter graph written to script (its
// contents returned as graph).
func (p compositionPlan) args(dir, out, script string) (args []string, graph string) {
	args = []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}
	var used []int // inputs, by file index
	input := map[int]int{}
	use := func(i int) int {
		if n, ok := input[i]; ok {
			return n
		}
		input[i] = len(used)
		used = append(used, i)
		return input[i]
	}
	for _, pl := range p.placements {
		use(pl.file)
	}
	if p.c.HasAudio {
		for i, f := range p.files {
			if f.HasAudio {
				use(i)
			}
		}
	}
	for _, i := range used {
		f := p.files[i]
		args = append(args, "-itsoffset", secs(f.StartTimeOffset), "-i", path.Join(dir, f.Filename))
	}
	var g strings.Builder
	dur := secs(p.durationMs)
	if p.c.HasVideo {
		fmt.Fprintf(&g, "color=c=black:s=%dx%d:r=%d:d=%s,format=yuv420p[bg0];\n", p.c.Width, p.c.Height, composedFPS, dur)
		perFile := map[int][]int{}
		for j, pl := range p.placements {
			perFile[pl.file] = append(perFile[pl.file], j)
		}
		for _, i := range used {
			js := perFile[i]
			if len(js) == 0 {
				continue
			}
			fmt.Fprintf(&g, "[%d:v]split=%d", input[i], len(js))
			for _, j := range js {
				fmt.Fprintf(&g, "[src%d]", j)
			}
			g.WriteString(";\n")
		}
		for j, pl := range p.placements {
			b := pl.box
			if b.Fit == "contain" {
				fmt.Fprintf(&g, "[src%d]scale=%d:%d:force_original_aspect_ratio=decrease,pad=%d:%d:(ow-iw)/2:(oh-ih)/2,setsar=1[pic%d];\n",
					j, b.W, b.H, b.W, b.H, j)
			} else {
				fmt.Fprintf(&g, "[src%d]scale=%d:%d:force_original_aspect_ratio=increase,crop=%d:%d,setsar=1[pic%d];\n",
					j, b.W, b.H, b.W, b.H, j)
			}
			var on []string
			for _, s := range pl.spans {
				on = append(on, fmt.Sprintf("between(t,%s,%s)", secs(s[0]), secs(s[1])))
			}
			fmt.Fprintf(&g, "[bg%d][pic%d]overlay=x=%d:y=%d:eof_action=pass:enable='%s'[bg%d];\n",
				j, j, b.X, b.Y, strings.Join(on, "+"), j+1)
		}
		fmt.Fprintf(&g, "[bg%d]null[vout];\n", len(p.placements))
	}
	if p.c.HasAudio {
		// Silence the whole length long, so that the mix starts at 0 and
		// lasts to the end whoever speaks.
		fmt.Fprintf(&g, "anullsrc=r=48000:cl=stereo,atrim=0:%s[mix0];\n", dur)
		n := 1
		for _, i := range used {
			if !p.files[i].HasAudio {
				continue
			}
			fmt.Fprintf(&g, "[%d:a]aresample=48000:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo[mix%d];\n", input[i], n)
			n++
		}
		for k := range n {
			fmt.Fprintf(&g, "[mix%d]", k)
		}
		fmt.Fprintf(&g, "amix=inputs=%d:duration=first:dropout_transition=0:normalize=0[aout];\n", n)
	}
	graph = strings.TrimSuffix(g.String(), ";\n")
	args = append(args, "-filter_complex_script", script)
	if p.c.HasVideo {
		args = append(args, "-map", "[vout]", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
			"-r", strconv.Itoa(composedFPS), "-g", strconv.Itoa(2*composedFPS))
		switch {
		case p.c.MaxBitrate > 0:
			br := strconv.Itoa(p.c.MaxBitrate)
			args = append(args, "-b:v", br, "-maxrate", br, "-bufsize", strconv.Itoa(2*p.c.MaxBitrate))
		case p.c.QuantizationParameter > 0:
			args = append(args, "-qp", strconv.Itoa(p.c.QuantizationParameter))
		default:
			args = append(args, "-crf", "23")
		}
	}
	if p.c.HasAudio {
		args = append(args, "-map", "[aout]", "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2")
	}
	args = append(args, "-t", dur, "-movflags", "+faststart", "-f", "mp4", out)
	return args, graph
}

// duration of the plan.
func (p compositionPlan) duration() time.Duration {
	return time.Duration(p.durationMs) * time.Millisecond
}

// stream returns the layout stream of session stream st now.
func timedClassOf(at int64, st session.Stream) timedClass {
	return timedClass{At: at, StreamID: st.ID, Classes: slices.Clone(st.LayoutClassList)}
}
