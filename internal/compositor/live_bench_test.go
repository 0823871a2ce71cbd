package compositor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkLive runs a 640x480 broadcast of two moving 640x480 cameras
// (VP8 with an Opus tone, and H.264) side by side for ten seconds, and
// reports the CPU it takes — this process (compositor and the test's RTP
// players), the encoder, the decoders — as percent of one core, and the
// end-to-end delays: from the first packet of a new picture (or of a tone
// after silence) leaving a source to its encoded frame reaching
// Config.Out.
func BenchmarkLive(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads CPU times from /proc")
	}
	ffmpeg, ffprobe := tools(b)
	dir := b.TempDir()
	encode := func(name string, args ...string) string {
		path := filepath.Join(dir, name)
		cmd := exec.Command(ffmpeg, append(append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...), path)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		return path
	}
	vp8 := []string{"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "800k", "-g", "50", "-f", "ivf"}
	moving := encode("moving.ivf", append([]string{"-f", "lavfi", "-i", "testsrc2=s=640x480:r=25", "-t", "4"}, vp8...)...)
	blue := encode("blue.ivf", append([]string{"-f", "lavfi", "-i", "color=c=blue:s=640x480:r=25", "-t", "2"}, vp8...)...)
	silence := encode("silence.ogg", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "2",
		"-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-page_duration", "20000", "-f", "ogg")
	h264 := encode("moving.h264", "-f", "lavfi", "-i", "testsrc=s=640x480:r=25", "-t", "4", "-c:v", "libx264",
		"-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-bf", "0", "-g", "50", "-b:v", "800k", "-f", "h264")

	for b.Loop() {
		cam1 := newTestSource(b, ivfTrack(b, moving, 25), opusTrack(b, silence))
		cam2 := newTestSource(b, h264Track(b, h264, 25), nil)
		out := &timedWriter{}
		c, err := Start(context.Background(), Config{Width: 640, Height: 480, Audio: true, Video: true, Out: out, FFmpeg: ffmpeg})
		if err != nil {
			b.Fatal(err)
		}
		c.Set([]Input{
			{ID: "cam1", Source: cam1, Audio: true, Video: true, Box: &Box{X: 0, Y: 0, W: 320, H: 480}},
			{ID: "cam2", Source: cam2, Audio: true, Video: true, Box: &Box{X: 320, Y: 0, W: 320, H: 480}},
		})
		waitFor(b, startWait, "pictures", func() bool {
			s := c.Stats()
			return s.Sources["cam1"].Pictures > 0 && s.Sources["cam2"].Pictures > 0
		})
		time.Sleep(2 * time.Second) // past the start
		t0, cpu0 := time.Now(), cpuTimes(b)
		time.Sleep(10 * time.Second)
		t1, cpu1 := time.Now(), cpuTimes(b)
		wall := t1.Sub(t0).Seconds()
		for _, what := range []string{"go", "encoder", "decoders"} {
			b.ReportMetric(100*(cpu1[what]-cpu0[what])/wall, what+"-cpu-%")
		}

		blueTrack, tone := ivfTrack(b, blue, 25), opusTrack(b, mediaFile(b, "tone.ogg"))
		switched := time.Now()
		cam1.switchVideo(blueTrack)
		cam1.switchAudio(tone)
		time.Sleep(3 * time.Second)
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		s := c.Stats()
		b.ReportMetric(float64(s.FramesLate+s.FramesDropped), "late-frames")

		// The first blue frame of the output, its packet's end in the
		// stream, and when Out got that far.
		path := filepath.Join(dir, "out.ts")
		if err := os.WriteFile(path, out.bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		raw, err := exec.Command(ffmpeg, "-v", "error", "-i", path, "-an", "-fps_mode", "passthrough",
			"-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
		if err != nil {
			b.Fatal(err)
		}
		first := -1
		for i := 0; (i+1)*640*480*3 <= len(raw); i++ {
			f := rgbFrame{w: 640, h: 480, pix: raw[i*640*480*3:]}
			if allBlue(f) {
				first = i
				break
			}
		}
		pkts, err := exec.Command(ffprobe, "-v", "error", "-select_streams", "v", "-show_entries", "packet=pos,size",
			"-of", "csv=p=0", path).Output()
		if err != nil || first < 0 {
			b.Fatalf("no blue frame (%v)", err)
		}
		lines := strings.Fields(string(pkts))
		if first >= len(lines) {
			b.Fatalf("frame %d of %d packets", first, len(lines))
		}
		var size, pos int64
		fmt.Sscanf(strings.ReplaceAll(lines[first], ",", " "), "%d %d", &size, &pos)
		b.ReportMetric(float64(out.at(pos+size).Sub(switched).Milliseconds()), "video-delay-ms")
		audioAt, audioPTS := audioOnset(b, ffmpeg, ffprobe, path, out)
		b.ReportMetric(float64(audioAt.Sub(switched).Milliseconds()), "audio-delay-ms")
		// How much later than the picture the sound sits in the stream:
		// both changed at the same moment at the source.
		videoPTS := streamStart(b, ffprobe, path, "v") + float64(first)/25
		b.ReportMetric(1000*(audioPTS-videoPTS), "av-skew-ms")
	}
}

// streamStart returns the start time of a file's first stream of a kind.
func streamStart(b *testing.B, ffprobe, path, kind string) float64 {
	out, err := exec.Command(ffprobe, "-v", "error", "-select_streams", kind+":0", "-show_entries", "stream=start_time",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		b.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(out) + " x")[0], 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// audioOnset returns when Out got the packet holding the first loud
// sample of the file's audio, and that sample's time in the stream.
func audioOnset(b *testing.B, ffmpeg, ffprobe, path string, out *timedWriter) (time.Time, float64) {
	pcm, err := exec.Command(ffmpeg, "-v", "error", "-i", path, "-vn", "-f", "s16le", "-ac", "1", "-ar", "48000", "-").Output()
	if err != nil {
		b.Fatal(err)
	}
	onset := -1
	for i := 0; 2*i+1 < len(pcm); i++ {
		if v := int16(uint16(pcm[2*i]) | uint16(pcm[2*i+1])<<8); v > 2000 || v < -2000 {
			onset = i
			break
		}
	}
	if onset < 0 {
		b.Fatal("no tone in the output")
	}
	pkts, err := exec.Command(ffprobe, "-v", "error", "-select_streams", "a", "-show_entries",
		"stream=start_time:packet=pts_time,duration_time,pos", "-of", "json", path).Output()
	if err != nil {
		b.Fatal(err)
	}
	var res struct {
		Packets []struct {
			PTS string `json:"pts_time"`
			Dur string `json:"duration_time"`
			Pos string `json:"pos"`
		} `json:"packets"`
		Streams []struct {
			Start string `json:"start_time"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(pkts, &res); err != nil || len(res.Streams) == 0 {
		b.Fatalf("ffprobe: %v", err)
	}
	// The demuxer splits each PES into AAC frames and only the first has a
	// position: the onset's PES was complete when the next one started.
	start, _ := strconv.ParseFloat(res.Streams[0].Start, 64)
	at := start + float64(onset)/48000
	found := false
	for _, p := range res.Packets {
		pts, _ := strconv.ParseFloat(p.PTS, 64)
		dur, _ := strconv.ParseFloat(p.Dur, 64)
		if !found {
			found = at < pts+dur
			continue
		}
		if p.Pos != "" {
			pos, _ := strconv.ParseInt(p.Pos, 10, 64)
			return out.at(pos), at
		}
	}
	b.Fatal("onset in the last PES")
	return time.Time{}, 0
}

// timedWriter keeps what is written and when each byte arrived.
type timedWriter struct {
	mu    sync.Mutex
	buf   []byte
	marks []mark
}

type mark struct {
	end int64
	at  time.Time
}

func (w *timedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	w.marks = append(w.marks, mark{int64(len(w.buf)), time.Now()})
	return len(b), nil
}

func (w *timedWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf
}

// at returns when the stream reached n bytes.
func (w *timedWriter) at(n int64) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.marks {
		if m.end >= n {
			return m.at
		}
	}
	return time.Time{}
}

// cpuTimes returns the CPU seconds used so far by this process ("go"), by
// its ffmpeg encoder and by its ffmpeg decoders.
func cpuTimes(b *testing.B) map[string]float64 {
	res := map[string]float64{"go": procCPU(b, "self")}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	me := strconv.Itoa(os.Getpid())
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 || f[1] != me {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		switch {
		case strings.Contains(string(cmdline), "libx264"):
			res["encoder"] += procCPU(b, filepath.Base(d))
		case strings.Contains(string(cmdline), "sdp"):
			res["decoders"] += procCPU(b, filepath.Base(d))
		}
	}
	return res
}

// procCPU returns the user and system CPU seconds of /proc/pid.
func procCPU(b testing.TB, pid string) float64 {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		b.Fatalf("stat of %s: %q", pid, s)
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks (USER_HZ)
}

// allBlue reports whether the left box of f is blue all over (a moving
// test pattern is blue in places).
func allBlue(f rgbFrame) bool {
	for _, p := range [][2]int{{80, 120}, {240, 120}, {160, 240}, {80, 360}, {240, 360}} {
		if f.colour(p[0]-10, p[1]-10, p[0]+10, p[1]+10) != "blue" {
			return false
		}
	}
	return true
}
