package compositor

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	canvasW = 320
	canvasH = 240
	// startWait bounds the wait for decoders to show their first pictures
	// on a loaded machine; it only limits a failing test.
	startWait = 30 * time.Second
)

var (
	leftHalf  = &Box{X: 0, Y: 0, W: canvasW / 2, H: canvasH}
	rightHalf = &Box{X: canvasW / 2, Y: 0, W: canvasW / 2, H: canvasH}
)

// startTest starts a compositor writing to a file in t's temp folder.
func startTest(t *testing.T, audio, video bool) (*Compositor, string) {
	t.Helper()
	ffmpeg, _ := tools(t)
	path := filepath.Join(t.TempDir(), "out.ts")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	c, err := Start(context.Background(), Config{
		Width: canvasW, Height: canvasH, FPS: testFPS, Audio: audio, Video: video,
		Out: out, FFmpeg: ffmpeg, Log: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelInfo
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// waitPictures waits until every id has shown a picture.
func waitPictures(t *testing.T, c *Compositor, ids ...string) {
	t.Helper()
	waitFor(t, startWait, "first pictures of "+strings.Join(ids, ", "), func() bool {
		s := c.Stats()
		for _, id := range ids {
			if s.Sources[id].Pictures == 0 {
				return false
			}
		}
		return true
	})
}

// waitSlots waits until n more frame slots have gone to the encoder.
func waitSlots(t *testing.T, c *Compositor, n int64) {
	t.Helper()
	slots := func() int64 { s := c.Stats(); return s.Frames + s.FramesLate + s.FramesDropped }
	until := slots() + n
	waitFor(t, startWait, "frames", func() bool { return slots() >= until })
}

func closeTest(t *testing.T, c *Compositor) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s := c.Stats()
	t.Logf("frames %d late %d dropped %d, audio %d dropped %d, %d bytes",
		s.Frames, s.FramesLate, s.FramesDropped, s.AudioChunks, s.AudioDropped, s.Bytes)
}

func TestSideBySide(t *testing.T) {
	red, blue := redSource(t, true), blueSource(t)
	c, path := startTest(t, true, true)
	c.Set([]Input{
		{ID: "red", Source: red, Audio: true, Video: true, Box: leftHalf},
		{ID: "blue", Source: blue, Audio: true, Video: true, Box: rightHalf},
	})
	waitPictures(t, c, "red", "blue")
	waitSlots(t, c, 3*testFPS)
	closeTest(t, c)

	p := ffprobeFile(t, path)
	var video, audio bool
	for _, s := range p.Streams {
		switch {
		case s.CodecType == "video" && s.CodecName == "h264" && s.Width == canvasW && s.Height == canvasH:
			video = true
		case s.CodecType == "audio" && s.CodecName == "aac":
			audio = true
		}
	}
	if !video || !audio {
		t.Fatalf("streams: %+v, want h264 %dx%d and aac", p.Streams, canvasW, canvasH)
	}
	f := lastFrame(t, path, canvasW, canvasH)
	if l, r := f.colour(0, 0, canvasW/2, canvasH), f.colour(canvasW/2, 0, canvasW, canvasH); l != "red" || r != "blue" {
		t.Errorf("last frame: left %s, right %s; want red, blue", l, r)
	}
	if v := meanVolume(t, path, 1.5); v < -40 {
		t.Errorf("mean volume %.1f dB: the tone is missing", v)
	}
}

func TestLayoutChange(t *testing.T) {
	red, blue := redSource(t, true), blueSource(t)
	c, path := startTest(t, true, true)
	inputs := func(redBox, blueBox *Box) []Input {
		return []Input{
			{ID: "red", Source: red, Audio: true, Video: true, Box: redBox},
			{ID: "blue", Source: blue, Video: true, Box: blueBox},
		}
	}
	c.Set(inputs(leftHalf, rightHalf))
	waitPictures(t, c, "red", "blue")
	waitSlots(t, c, 2*testFPS)
	c.Set(inputs(rightHalf, leftHalf))
	waitSlots(t, c, 2*testFPS)
	closeTest(t, c)

	// The pictures go from red|blue to blue|red once, and stay.
	var seq []string
	for _, f := range frames(t, path, canvasW, canvasH, 5) {
		seq = append(seq, f.colour(0, 0, canvasW/2, canvasH)+"|"+f.colour(canvasW/2, 0, canvasW, canvasH))
	}
	before, after := -1, -1
	for i, s := range seq {
		switch {
		case s == "red|blue" && after < 0:
			before = i
		case s == "blue|red" && before >= 0 && after < 0:
			after = i
		case s == "red|blue" && after >= 0:
			t.Fatalf("frame %d is red|blue again after the change: %v", i, seq)
		}
	}
	if before < 0 || after < 0 {
		t.Fatalf("want red|blue then blue|red: %v", seq)
	}
	checkContinuous(t, "video", packetTimes(t, path, "v:0"), 0.2)
	checkContinuous(t, "audio", packetTimes(t, path, "a:0"), 0.2)
}

func TestRemoveSource(t *testing.T) {
	red, blue := redSource(t, true), blueSource(t)
	c, path := startTest(t, true, true)
	c.Set([]Input{
		{ID: "red", Source: red, Audio: true, Video: true, Box: leftHalf},
		{ID: "blue", Source: blue, Video: true, Box: rightHalf},
	})
	waitPictures(t, c, "red", "blue")
	waitSlots(t, c, testFPS)
	c.Set([]Input{{ID: "blue", Source: blue, Video: true, Box: rightHalf}})
	if _, ok := c.Stats().Sources["red"]; ok {
		t.Error("the removed source is still counted")
	}
	waitFor(t, startWait, "untap", func() bool { return !red.video.tapped() && !red.audio.tapped() })
	waitSlots(t, c, 2*testFPS)
	closeTest(t, c)

	f := lastFrame(t, path, canvasW, canvasH)
	if l, r := f.colour(0, 0, canvasW/2, canvasH), f.colour(canvasW/2, 0, canvasW, canvasH); l != "black" || r != "blue" {
		t.Errorf("last frame: left %s, right %s; want black, blue", l, r)
	}
	checkContinuous(t, "video", packetTimes(t, path, "v:0"), 0.2)
}

func TestDecoderCrash(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("finds the decoders through /proc")
	}
	red, blue := redSource(t, true), blueSource(t)
	c, path := startTest(t, true, true)
	c.Set([]Input{
		{ID: "red", Source: red, Audio: true, Video: true, Box: leftHalf},
		{ID: "blue", Source: blue, Video: true, Box: rightHalf},
	})
	waitPictures(t, c, "red", "blue")
	// Kill the video decoders: the boxes go black a second later, the
	// audio and the stream go on, and new decoders bring the pictures back.
	pids := videoDecoders(t)
	if len(pids) != 2 {
		t.Fatalf("%d video decoders, want 2", len(pids))
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	s := c.Stats()
	waitFor(t, startWait, "new decoders", func() bool {
		now := c.Stats()
		return now.Sources["red"].Restarts > 0 && now.Sources["blue"].Restarts > 0 &&
			now.Sources["red"].Pictures > s.Sources["red"].Pictures+testFPS &&
			now.Sources["blue"].Pictures > s.Sources["blue"].Pictures+testFPS
	})
	closeTest(t, c)
	f := lastFrame(t, path, canvasW, canvasH)
	if l, r := f.colour(0, 0, canvasW/2, canvasH), f.colour(canvasW/2, 0, canvasW, canvasH); l != "red" || r != "blue" {
		t.Errorf("last frame: left %s, right %s; want red, blue", l, r)
	}
	checkContinuous(t, "video", packetTimes(t, path, "v:0"), 0.2)
	checkContinuous(t, "audio", packetTimes(t, path, "a:0"), 0.2)
}

// videoDecoders returns the pids of this process's ffmpeg children that
// decode video (their output is yuv4mpegpipe).
func videoDecoders(t *testing.T) []int { return childPIDs(t, "yuv4mpegpipe") }

// childPIDs returns the pids of this process's children whose command
// line holds word.
func childPIDs(t *testing.T, word string) []int {
	t.Helper()
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil || !strings.Contains(string(b), word) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(d), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(d))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// A source changing its picture size gets a new decoder, whose pictures
// have the new size: not the first picture's size scaled up.
func TestPictureSizeChange(t *testing.T) {
	for _, tc := range []struct{ name, small, big string }{
		{"VP8", "small.ivf", "red.ivf"},
		{"VP9", "smallgreen.ivf", "green.ivf"},
		{"H264", "smallblue.h264", "blue.h264"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load := func(name string) *testTrack {
				if strings.HasSuffix(name, ".h264") {
					return h264Track(t, mediaFile(t, name), testFPS)
				}
				return ivfTrack(t, mediaFile(t, name), testFPS)
			}
			src := newTestSource(t, load(tc.small), nil)
			c, _ := startTest(t, false, true)
			c.Set([]Input{{ID: "s", Source: src, Video: true, Box: leftHalf}})
			waitPictures(t, c, "s")
			if s := c.Stats().Sources["s"]; s.Width != mediaW/2 || s.Height != mediaH/2 {
				t.Fatalf("first pictures %dx%d, want %dx%d", s.Width, s.Height, mediaW/2, mediaH/2)
			}
			src.switchVideo(load(tc.big))
			waitFor(t, startWait, "pictures of the new size", func() bool {
				s := c.Stats().Sources["s"]
				return s.Width == mediaW && s.Height == mediaH
			})
			if s := c.Stats().Sources["s"]; s.Restarts != 1 {
				t.Errorf("%d restarts, want 1", s.Restarts)
			}
			closeTest(t, c)
		})
	}
}

// A source losing packets keeps showing pictures: a VP8 decoder that lost
// a packet waits for a keyframe, and gets one asked for. The video has a
// single keyframe in a minute, so without asking it would stay frozen.
func TestPacketLoss(t *testing.T) {
	video := ivfTrack(t, mediaFile(t, "onekey.ivf"), testFPS)
	audio := opusTrack(t, mediaFile(t, "tone.ogg"))
	video.lossEvery, audio.lossEvery = 40, 25
	src := newTestSource(t, video, audio)
	c, _ := startTest(t, true, true)
	c.Set([]Input{{ID: "s", Source: src, Audio: true, Video: true, Box: leftHalf}})
	waitPictures(t, c, "s")
	shown := c.Stats().Sources["s"].Pictures
	waitFor(t, startWait, "pictures after losses", func() bool { return c.Stats().Sources["s"].Pictures > shown+3*testFPS })
	t.Logf("%+v, %d keyframe requests", c.Stats().Sources["s"], src.keyframes.Load())
	closeTest(t, c)
}

// An encoder that dies closes Done with an error, the rest stops at
// Close without leaks.
func TestEncoderDies(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("finds the encoder through /proc")
	}
	red := redSource(t, true)
	c, _ := startTest(t, true, true)
	c.Set([]Input{{ID: "red", Source: red, Audio: true, Video: true, Box: leftHalf}})
	waitPictures(t, c, "red")
	pids := childPIDs(t, "libx264")
	if len(pids) != 1 {
		t.Fatalf("%d encoders", len(pids))
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(startWait):
		t.Fatal("Done still open")
	}
	if c.Err() == nil {
		t.Error("no error after the encoder died")
	}
	waitSlots(t, c, testFPS) // the clock goes on without an encoder
	if err := c.Close(); err == nil {
		t.Error("Close: no error")
	}
	if left := children(t); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
}

func TestAudioOnly(t *testing.T) {
	red := redSource(t, true)
	c, path := startTest(t, true, false)
	c.Set([]Input{{ID: "red", Source: red, Audio: true, Video: true, Box: leftHalf}})
	waitFor(t, startWait, "audio", func() bool { return c.Stats().AudioChunks > 3*50 })
	if red.video.tapped() {
		t.Error("video tapped without video output")
	}
	closeTest(t, c)
	p := ffprobeFile(t, path)
	if len(p.Streams) != 1 || p.Streams[0].CodecName != "aac" {
		t.Fatalf("streams %+v, want aac only", p.Streams)
	}
	if v := meanVolume(t, path, 1); v < -40 {
		t.Errorf("mean volume %.1f dB: the tone is missing", v)
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	red, blue := redSource(t, true), blueSource(t)
	before := runtime.NumGoroutine()
	c, _ := startTest(t, true, true)
	c.Set([]Input{
		{ID: "red", Source: red, Audio: true, Video: true, Box: leftHalf},
		{ID: "blue", Source: blue, Audio: true, Video: true, Box: rightHalf},
	})
	waitPictures(t, c, "red", "blue")
	closeTest(t, c)
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	c.Set([]Input{{ID: "red", Source: red, Video: true, Box: leftHalf}}) // after Close: nothing
	select {
	case <-c.Done():
	default:
		t.Error("Done open after Close")
	}
	if left := children(t); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
	if red.video.tapped() || red.audio.tapped() || blue.video.tapped() {
		t.Error("taps left")
	}
	// Goroutines that just ended may take a moment to be gone.
	waitFor(t, 10*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestStartErrors(t *testing.T) {
	ffmpeg, _ := tools(t)
	ok := Config{Width: 320, Height: 240, Audio: true, Video: true, Out: new(strings.Builder), FFmpeg: ffmpeg}
	for name, mod := range map[string]func(*Config){
		"odd width":     func(c *Config) { c.Width = 321 },
		"tiny":          func(c *Config) { c.Height = 2 },
		"huge":          func(c *Config) { c.Width = 10000 },
		"nothing":       func(c *Config) { c.Audio, c.Video = false, false },
		"no output":     func(c *Config) { c.Out = nil },
		"fps":           func(c *Config) { c.FPS = 1000 },
		"bitrate":       func(c *Config) { c.VideoBitrate = -1 },
		"no ffmpeg":     func(c *Config) { c.FFmpeg = filepath.Join(t.TempDir(), "none") },
		"negative fps":  func(c *Config) { c.FPS = -1 },
		"negative size": func(c *Config) { c.Width = -320 },
	} {
		cfg := ok
		mod(&cfg)
		if c, err := Start(context.Background(), cfg); err == nil {
			c.Close()
			t.Errorf("%s: Start succeeded", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, ok); err == nil {
		t.Error("Start with a done context succeeded")
	}
}

// A context that ends stops the compositor and ends the stream cleanly;
// Close then only waits.
func TestContextEnds(t *testing.T) {
	ffmpeg, _ := tools(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out strings.Builder
	c, err := Start(ctx, Config{Width: 64, Height: 64, Audio: true, Video: true, Out: &out, FFmpeg: ffmpeg})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, startWait, "output", func() bool { return c.Stats().Bytes > 0 })
	cancel()
	select {
	case <-c.Done():
	case <-time.After(startWait):
		t.Fatal("the stream did not end with the context")
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// Bad inputs are left out without harm.
func TestSetBadInputs(t *testing.T) {
	c, _ := startTest(t, true, true)
	red := redSource(t, false)
	c.Set([]Input{
		{ID: "", Source: red, Video: true, Box: leftHalf},
		{ID: "nil", Video: true, Box: leftHalf},
		{ID: "red", Source: red, Video: true, Box: &Box{X: -1 << 40, Y: 5, W: 3, H: 1 << 40}},
		{ID: "red", Source: red, Video: true, Box: leftHalf},
		{ID: "noaudio", Source: red, Audio: true},
		{ID: "uncomparable", Source: uncomparable{red, nil}, Video: true, Box: &Box{X: 300, Y: 200, W: 100, H: 100, Fit: "stretch"}},
	})
	c.Set([]Input{{ID: "uncomparable", Source: uncomparable{red, nil}, Video: true, Box: rightHalf}})
	if n := len(c.Stats().Sources); n != 1 {
		t.Errorf("%d sources, want 1", n)
	}
	closeTest(t, c)
}

type uncomparable struct {
	*testSource
	_ []int
}

// A source whose codec the decoders do not take stays black, and the
// rest goes on.
func TestUnsupportedCodec(t *testing.T) {
	c, _ := startTest(t, true, true)
	red := redSource(t, false)
	odd := &testSource{video: &testTrack{params: videoParams("video/H265", 100, "")}, quit: make(chan struct{})}
	c.Set([]Input{
		{ID: "odd", Source: odd, Video: true, Audio: true, Box: leftHalf},
		{ID: "red", Source: red, Video: true, Box: rightHalf},
	})
	waitPictures(t, c, "red")
	if odd.video.tapped() {
		t.Error("unsupported track tapped")
	}
	closeTest(t, c)
}
