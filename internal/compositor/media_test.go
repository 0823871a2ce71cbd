package compositor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/test/live"
)

// Test media, made once per test run by ffmpeg: two-second loops at
// testFPS of a solid picture, and a tone.
const (
	testFPS = 25
	mediaW  = 320
	mediaH  = 240
)

var media struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if media.dir != "" {
		os.RemoveAll(media.dir)
	}
	os.Exit(code)
}

// tools returns the paths of ffmpeg and ffprobe, or skips t.
func tools(t testing.TB) (ffmpeg, ffprobe string) {
	t.Helper()
	return live.Require(t, "ffmpeg"), live.Require(t, "ffprobe")
}

// mediaFile returns the path of a test file, making them all on first use:
// red.ivf (VP8), green.ivf (VP9), blue.h264, tone.ogg (Opus, 440 Hz), and
// at half the size small.ivf (red VP8), smallgreen.ivf and smallblue.h264,
// and onekey.ivf: a minute of red VP8 with a single keyframe.
func mediaFile(t testing.TB, name string) string {
	t.Helper()
	ffmpeg, _ := tools(t)
	media.once.Do(func() {
		media.dir, media.err = os.MkdirTemp("", "parley-compositor-")
		if media.err != nil {
			return
		}
		size := fmt.Sprintf("s=%dx%d:r=%d", mediaW, mediaH, testFPS)
		half := fmt.Sprintf("s=%dx%d:r=%d", mediaW/2, mediaH/2, testFPS)
		gop := []string{"-g", strconv.Itoa(testFPS), "-keyint_min", strconv.Itoa(testFPS)}
		vp8 := append([]string{"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"}, gop...)
		jobs := [][]string{
			append(append([]string{"-f", "lavfi", "-i", "color=c=red:" + size, "-t", "2"}, vp8...), "-f", "ivf", "red.ivf"),
			append(append([]string{"-f", "lavfi", "-i", "color=c=red:" + half, "-t", "2"}, vp8...), "-f", "ivf", "small.ivf"),
			append(append([]string{"-f", "lavfi", "-i", "color=c=green:" + size, "-t", "2",
				"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"}, gop...), "-f", "ivf", "green.ivf"),
			append(append([]string{"-f", "lavfi", "-i", "color=c=green:" + half, "-t", "2",
				"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"}, gop...), "-f", "ivf", "smallgreen.ivf"),
			append(append([]string{"-f", "lavfi", "-i", "color=c=blue:" + half, "-t", "2",
				"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-bf", "0", "-pix_fmt", "yuv420p"}, gop...),
				"-f", "h264", "smallblue.h264"),
			append(append([]string{"-f", "lavfi", "-i", "color=c=blue:" + size, "-t", "2",
				"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-bf", "0", "-pix_fmt", "yuv420p"}, gop...),
				"-f", "h264", "blue.h264"),
			append(append([]string{"-f", "lavfi", "-i", "color=c=red:" + size, "-t", "60"}, vp8[:len(vp8)-4]...),
				"-g", "100000", "-f", "ivf", "onekey.ivf"),
			{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2", "-ac", "2",
				"-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-page_duration", "20000", "-f", "ogg", "tone.ogg"},
		}
		for _, args := range jobs {
			cmd := exec.Command(ffmpeg, append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
			cmd.Dir = media.dir
			if out, err := cmd.CombinedOutput(); err != nil {
				media.err = fmt.Errorf("ffmpeg %v: %v\n%s", args, err, out)
				return
			}
		}
	})
	if media.err != nil {
		t.Fatal(media.err)
	}
	return filepath.Join(media.dir, name)
}

// Sources of the test media.
func redSource(t testing.TB, audio bool) *testSource {
	var a *testTrack
	if audio {
		a = opusTrack(t, mediaFile(t, "tone.ogg"))
	}
	return newTestSource(t, ivfTrack(t, mediaFile(t, "red.ivf"), testFPS), a)
}

func blueSource(t testing.TB) *testSource {
	return newTestSource(t, h264Track(t, mediaFile(t, "blue.h264"), testFPS), nil)
}

// probe is what ffprobe says of a file.
type probe struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func ffprobeFile(t testing.TB, path string) probe {
	t.Helper()
	_, ffprobe := tools(t)
	out, err := exec.Command(ffprobe, "-v", "error", "-show_entries",
		"format=duration:stream=codec_type,codec_name,width,height", "-of", "json", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	return p
}

func (p probe) duration() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

// rgbFrame is a decoded picture of the output.
type rgbFrame struct {
	w, h int
	pix  []byte
}

func (f rgbFrame) at(x, y int) (r, g, b int) {
	i := 3 * (y*f.w + x)
	return int(f.pix[i]), int(f.pix[i+1]), int(f.pix[i+2])
}

// colour names the colour at the centre of the box (x0,y0)-(x1,y1),
// averaged over a few pixels: red, green, blue, black or other.
func (f rgbFrame) colour(x0, y0, x1, y1 int) string {
	cx, cy := (x0+x1)/2, (y0+y1)/2
	var r, g, b int
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			pr, pg, pb := f.at(cx+dx, cy+dy)
			r, g, b = r+pr, g+pg, b+pb
		}
	}
	r, g, b = r/25, g/25, b/25
	switch {
	case r > 150 && g < 90 && b < 90:
		return "red"
	case g > 90 && r < 90 && b < 90:
		return "green"
	case b > 150 && r < 90 && g < 90:
		return "blue"
	case r < 40 && g < 40 && b < 40:
		return "black"
	}
	return fmt.Sprintf("other(%d,%d,%d)", r, g, b)
}

// frames decodes the video of a file at rate pictures per second, as RGB.
func frames(t testing.TB, path string, w, h int, rate int) []rgbFrame {
	t.Helper()
	ffmpeg, _ := tools(t)
	out, err := exec.Command(ffmpeg, "-v", "error", "-i", path, "-an", "-vf", fmt.Sprintf("fps=%d", rate),
		"-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	size := w * h * 3
	var fs []rgbFrame
	for len(out) >= size {
		fs = append(fs, rgbFrame{w: w, h: h, pix: out[:size]})
		out = out[size:]
	}
	return fs
}

// lastFrame decodes the last picture of a file. (Seeking near the end
// may land after the last keyframe, with nothing to decode: decode all.)
func lastFrame(t testing.TB, path string, w, h int) rgbFrame {
	t.Helper()
	fs := frames(t, path, w, h, 5)
	if len(fs) == 0 {
		t.Fatalf("no pictures in %s", path)
	}
	return fs[len(fs)-1]
}

// meanVolume is ffmpeg's volumedetect mean volume, in dB, of the last
// seconds of a file.
func meanVolume(t testing.TB, path string, seconds float64) float64 {
	t.Helper()
	ffmpeg, _ := tools(t)
	out, err := exec.Command(ffmpeg, "-hide_banner", "-sseof", fmt.Sprintf("-%.1f", seconds), "-i", path, "-vn",
		"-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("volumedetect: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`mean_volume: (-?[0-9.]+|-inf) dB`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no mean volume in:\n%s", out)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return -1000
	}
	return v
}

// packetTimes returns the presentation times of a stream's packets.
func packetTimes(t testing.TB, path, stream string) []float64 {
	t.Helper()
	_, ffprobe := tools(t)
	out, err := exec.Command(ffprobe, "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe packets: %v", err)
	}
	var ts []float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), ","))
		if line == "" || line == "N/A" {
			continue
		}
		v, err := strconv.ParseFloat(line, 64)
		if err != nil {
			t.Fatalf("pts %q: %v", line, err)
		}
		ts = append(ts, v)
	}
	return ts
}

// checkContinuous asserts that times increase with no gap over maxGap.
func checkContinuous(t testing.TB, what string, ts []float64, maxGap float64) {
	t.Helper()
	if len(ts) < 2 {
		t.Fatalf("%s: %d packets", what, len(ts))
	}
	for i := 1; i < len(ts); i++ {
		if d := ts[i] - ts[i-1]; d <= 0 || d > maxGap {
			t.Fatalf("%s: packet %d at %.3f s after %.3f s", what, i, ts[i], ts[i-1])
		}
	}
}

// children returns the ffmpeg processes this process started that are
// still there.
func children(t testing.TB) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		return nil
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := strconv.Itoa(os.Getpid())
	var found []string
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == me && strings.Contains(s[:i], "ffmpeg") {
			found = append(found, strings.TrimSpace(s[:i+1]))
		}
	}
	return found
}

// waitFor polls cond every 50 ms up to limit; limits are generous, for a
// loaded machine, and only bound a failing test.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
