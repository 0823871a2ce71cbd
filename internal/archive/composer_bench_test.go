package archive

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/parleyhq/parley/internal/layout"
)

// BenchmarkCompose measures how long a composed archive takes to become
// available after it stops: one minute of two 640x480 VP8 + Opus streams
// (the second joining 10 s in), laid out at 1280x720 with a layout change
// halfway. It reports seconds of composing per minute recorded.
//
//	go test -run '^$' -bench Compose -benchtime 3x ./internal/archive/
func BenchmarkCompose(b *testing.B) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		b.Skip("ffmpeg is not installed")
	}
	dir := b.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	const seconds = 60
	files := []manifestFile{
		{Filename: "a.webm", StreamID: "a", StartTimeOffset: 0, StopTimeOffset: seconds * 1000, HasAudio: true, HasVideo: true, VideoType: "camera"},
		{Filename: "b.webm", StreamID: "b", StartTimeOffset: 10_000, StopTimeOffset: seconds * 1000, HasAudio: true, HasVideo: true, VideoType: "camera"},
	}
	work := func(id string) {
		if err := root.Mkdir(id, 0o750); err != nil {
			b.Fatal(err)
		}
		for i, f := range files {
			n := seconds - f.StartTimeOffset/1000
			src := "testsrc2=size=640x480:rate=30"
			if i == 1 {
				src = "smptebars=size=640x480:rate=30"
			}
			out, err := exec.Command(ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", src,
				"-f", "lavfi", "-i", "sine=frequency="+strconv.Itoa(300+200*i)+":sample_rate=48000",
				"-t", strconv.FormatInt(n, 10), "-c:v", "libvpx", "-b:v", "800k", "-deadline", "realtime", "-cpu-used", "8",
				"-c:a", "libopus", "-b:a", "32k", filepath.Join(dir, id, f.Filename)).CombinedOutput()
			if err != nil {
				b.Skipf("ffmpeg cannot make the VP8/Opus input: %v %s", err, out)
			}
		}
	}
	c := composition{Width: 1280, Height: 720, HasAudio: true, HasVideo: true, StoppedAt: seconds * 1000,
		Layouts: []timedLayout{{0, layout.Spec{Type: "bestFit"}}, {30_000, layout.Spec{Type: "verticalPresentation"}}}}
	comp := newComposer(ffmpeg, dir, discardLog())
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "run" + strconv.Itoa(i)
		work(ids[i])
	}
	b.ResetTimer()
	for i := range b.N {
		c.ID = ids[i]
		if err := comp.compose(context.Background(), root, ids[i], c.plan(files), ids[i]+".mp4"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/(seconds/60), "s/min-recorded")
}
