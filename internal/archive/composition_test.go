package archive

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/layout"
)

// TestCompositionPlan lays out two streams over time: A alone, then A and
// B, B's video off for a while, then picture-in-picture.
func TestCompositionPlan(t *testing.T) {
	c := composition{ID: "x", Width: 640, Height: 480, HasAudio: true, HasVideo: true,
		Layouts: []timedLayout{{0, layout.Spec{Type: "bestFit"}}, {8000, layout.Spec{Type: "pip"}}},
		Video:   []timedVideo{{At: 5000, StreamID: "B", On: false}, {At: 6000, StreamID: "B", On: true}},
		Classes: []timedClass{}, StoppedAt: 10000,
	}
	files := []manifestFile{
		{Filename: "A.webm", StreamID: "A", StartTimeOffset: 0, StopTimeOffset: 9990, HasAudio: true, HasVideo: true},
		{Filename: "B.webm", StreamID: "B", StartTimeOffset: 3000, StopTimeOffset: 10000, HasAudio: true, HasVideo: true},
		{Filename: "C.webm", StreamID: "C", StartTimeOffset: 1000, StopTimeOffset: 2000, HasAudio: true},
	}
	p := c.plan(files)
	if p.durationMs != 10000 {
		t.Errorf("duration %d", p.durationMs)
	}
	var got []string
	for _, pl := range p.placements {
		got = append(got, fmt.Sprintf("%s %dx%d+%d+%d %v", files[pl.file].StreamID, pl.box.W, pl.box.H, pl.box.X, pl.box.Y, pl.spans))
	}
	t.Logf("placements:\n%s", strings.Join(got, "\n"))
	spans := map[string][][2]int64{}
	for _, pl := range p.placements {
		id := files[pl.file].StreamID
		spans[id] = append(spans[id], pl.spans...)
	}
	// A is shown all along (in three boxes: alone, beside B, full in
	// pip); B from 3 s, but not while its video was off; C never (no
	// video).
	if covered(spans["A"]) != 9990 {
		t.Errorf("A shown for %d ms of 9990: %v", covered(spans["A"]), spans["A"])
	}
	if covered(spans["B"]) != 6000 {
		t.Errorf("B shown for %d ms, want 6000 (3-5 s and 6-10 s): %v", covered(spans["B"]), spans["B"])
	}
	if len(spans["C"]) != 0 {
		t.Errorf("C has no video but is placed: %v", spans["C"])
	}
	if len(p.placements) != 5 {
		t.Errorf("%d placements, want 5 (A alone, A and B side by side, A and B in pip)", len(p.placements))
	}

	args, graph := p.args("/d/x", "/d/x.mp4.tmp", "/d/x/graph")
	cmd := strings.Join(args, " ")
	for _, want := range []string{"-itsoffset 0.000 -i /d/x/A.webm", "-itsoffset 3.000 -i /d/x/B.webm", "-itsoffset 1.000 -i /d/x/C.webm",
		"-c:v libx264", "-c:a aac", "-t 10.000", "/d/x.mp4.tmp"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("ffmpeg arguments lack %q:\n%s", want, cmd)
		}
	}
	for _, want := range []string{"color=c=black:s=640x480", "amix=inputs=4", "between(t,3.000,5.000)+between(t,6.000,8.000)"} {
		if !strings.Contains(graph, want) {
			t.Errorf("filter graph lacks %q:\n%s", want, graph)
		}
	}

	// Audio only: no picture at all.
	c.HasVideo = false
	p = c.plan(files)
	args, graph = p.args("/d/x", "/o", "/g")
	if len(p.placements) != 0 || strings.Contains(graph, "color=") || strings.Contains(strings.Join(args, " "), "libx264") {
		t.Errorf("audio only: %v\n%s", args, graph)
	}
}

func covered(spans [][2]int64) int64 {
	var n int64
	for _, s := range spans {
		n += s[1] - s[0]
	}
	return n
}
