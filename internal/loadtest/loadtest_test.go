package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/node"
	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/test/live"
)

// TestRunAgainstNode runs a short load test against an in-process node:
// one session, one video publisher with audio, two subscribers. ffmpeg is
// made to be missing, so the run falls back to synthetic packets and
// says so (the clips are tested against a live server in test/rtc).
func TestRunAgainstNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and media clients")
	}
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.RTCUDPPort, cfg.RTCTCPPort, cfg.TURNPort, cfg.TURNTLSPort = 0, 0, 0, -1
	ctx, cancel := context.WithCancel(context.Background())
	n, err := node.New(ctx, cfg, slog.New(slog.DiscardHandler), "test")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	var progress live.Output
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	rep, err := Run(rctx, Plan{
		URL: n.URL(), API: opentok.New(n.Project.APIKey, n.Project.Secret, n.URL()),
		Sessions: 1, VideoPublishers: 1, WithAudio: true, Subscribers: 2,
		Duration: 3 * time.Second, Bitrate: 300_000, FPS: 15,
		FFmpeg:   filepath.Join(t.TempDir(), "no-such-ffmpeg"),
		Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	t.Logf("progress:\n%s", progress.String())
	if !rep.Synthetic || !strings.Contains(progress.String(), "sending synthetic packets instead") {
		t.Errorf("synthetic %v; progress:\n%s", rep.Synthetic, progress.String())
	}
	if rep.Joined != 3 || rep.Errors != 0 {
		t.Errorf("joined %d, errors %d %v", rep.Joined, rep.Errors, rep.ErrorSamples)
	}
	if rep.Tracks != 4 || rep.Video == nil || rep.Audio == nil || rep.Video.Tracks != 2 || rep.Audio.Tracks != 2 {
		t.Errorf("tracks %d, video %+v, audio %+v", rep.Tracks, rep.Video, rep.Audio)
	}
	if rep.PacketsIn == 0 || rep.PacketsOut == 0 || rep.BitsInPerSec == 0 || rep.BitsOutPerSec == 0 {
		t.Errorf("packets in %d, out %d; bits/s in %.0f, out %.0f", rep.PacketsIn, rep.PacketsOut, rep.BitsInPerSec, rep.BitsOutPerSec)
	}
	// Two subscribers receive what one publisher sends: about twice the
	// packets (the phases' edges cut a frame or two either way).
	if ratio := rep.PacketsInPerSec / rep.PacketsOutPerSec; ratio < 1.6 || ratio > 2.4 {
		t.Errorf("in %.0f pkt/s for out %.0f pkt/s", rep.PacketsInPerSec, rep.PacketsOutPerSec)
	}
	if rep.LossPercent >= 5 {
		t.Errorf("loss %.2f %%", rep.LossPercent)
	}
	if rep.JoinP50Ms <= 0 || rep.DelayP50Ms <= 0 || rep.DelayP99Ms < rep.DelayP50Ms || rep.DelaySamples == 0 {
		t.Errorf("join p50 %v ms, delay p50 %v p99 %v ms (%d samples)", rep.JoinP50Ms, rep.DelayP50Ms, rep.DelayP99Ms, rep.DelaySamples)
	}
	if rep.Audio.DelaySamples == 0 || rep.Video.DelaySamples == 0 || rep.JitterMs <= 0 {
		t.Errorf("audio delays %d, video delays %d, jitter %v ms", rep.Audio.DelaySamples, rep.Video.DelaySamples, rep.JitterMs)
	}
	if len(rep.Timeline) < 3 || rep.Client == nil || rep.Client.Error != "" || rep.Server != nil {
		t.Errorf("timeline %d samples, client %+v, server %+v", len(rep.Timeline), rep.Client, rep.Server)
	}
	if !strings.Contains(progress.String(), "running 3/3") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

func TestPlanCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		plan Plan
		want string // in the error; "" for none
	}{
		{"defaults", Plan{}, ""},
		{"simulcast", Plan{Simulcast: true, Width: 1280, Height: 720}, ""},
		{"simulcast synthetic", Plan{Simulcast: true, Synthetic: true}, "drop --synthetic"},
		{"simulcast odd size", Plan{Simulcast: true, Width: 644, Height: 480}, "multiples of 8"},
		{"simulcast pick", Plan{Simulcast: true, SimulcastPick: "middle"}, "want spread, best or lowest"},
		{"codec", Plan{Codec: "av2"}, "unknown codec"},
		{"synthetic h264", Plan{Codec: "h264", Synthetic: true}, "VP8-shaped only"},
		{"synthetic and file", Plan{Synthetic: true, VideoFile: "x.ivf"}, "exclude each other"},
		{"odd size", Plan{Width: 641, Height: 480}, "must be even"},
	} {
		c.plan.defaults()
		err := c.plan.check()
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// Run refuses a bad plan before doing anything.
	if _, err := Run(context.Background(), Plan{Simulcast: true, Synthetic: true}); err == nil || !strings.Contains(err.Error(), "drop --synthetic") {
		t.Errorf("simulcast synthetic run: %v", err)
	}
}

func TestSimulcastPreferred(t *testing.T) {
	r := &run{plan: Plan{Simulcast: true, Width: 1280, Height: 720}}
	r.plan.defaults()
	var got []string
	for i := range 4 {
		w, h := r.preferred(i)
		got = append(got, fmt.Sprintf("%dx%d", w, h))
	}
	if want := []string{"320x180", "640x360", "1280x720", "320x180"}; !slices.Equal(got, want) {
		t.Errorf("spread: %v, want %v", got, want)
	}
	r.plan.SimulcastPick = "lowest"
	if w, h := r.preferred(2); w != 320 || h != 180 {
		t.Errorf("lowest: %dx%d", w, h)
	}
	r.plan.SimulcastPick = "best"
	if w, h := r.preferred(0); w != 1280 || h != 720 {
		t.Errorf("best: %dx%d", w, h)
	}
	r.plan.Simulcast = false
	if w, h := r.preferred(0); w != 0 || h != 0 {
		t.Errorf("no simulcast: %dx%d", w, h)
	}
}

func TestPrepareMediaWithoutFFmpeg(t *testing.T) {
	var notes []string
	note := func(s string) { notes = append(notes, s) }
	missing := filepath.Join(t.TempDir(), "no-such-ffmpeg")

	p := Plan{VideoPublishers: 1, FFmpeg: missing}
	p.defaults()
	m, err := prepareMedia(context.Background(), &p, note)
	if err != nil || !m.synthetic || len(notes) != 1 || !strings.Contains(notes[0], "--synthetic") {
		t.Errorf("vp8 without ffmpeg: %+v, %v, notes %q", m, err, notes)
	}

	// Only VP8 has a synthetic form.
	p = Plan{VideoPublishers: 1, FFmpeg: missing, Codec: "h264"}
	p.defaults()
	if _, err := prepareMedia(context.Background(), &p, note); err == nil || !strings.Contains(err.Error(), "libx264") {
		t.Errorf("h264 without ffmpeg: %v", err)
	}

	// Given files need no ffmpeg.
	notes = nil
	p = Plan{VideoPublishers: 1, AudioPublishers: 1, WithAudio: true, FFmpeg: missing, VideoFile: "v.ivf", AudioFile: "a.ogg"}
	p.defaults()
	m, err = prepareMedia(context.Background(), &p, note)
	if err != nil || m.synthetic || m.videoFile != "v.ivf" || m.audioFile != "a.ogg" || len(notes) != 0 {
		t.Errorf("files: %+v, %v, notes %q", m, err, notes)
	}

	// Asked for synthetic: no ffmpeg looked for, no note.
	p = Plan{VideoPublishers: 1, Synthetic: true, FFmpeg: missing}
	p.defaults()
	if m, err := prepareMedia(context.Background(), &p, note); err != nil || !m.synthetic || len(notes) != 0 {
		t.Errorf("synthetic: %+v, %v, notes %q", m, err, notes)
	}
}

// Clips kept in a folder are made once: the second run finds them there
// and needs no ffmpeg.
func TestPrepareMediaClipDir(t *testing.T) {
	live.Require(t, "ffmpeg")
	dir := t.TempDir()
	var notes []string
	note := func(s string) { notes = append(notes, s) }
	p := Plan{VideoPublishers: 1, WithAudio: true, Width: 160, Height: 120, FPS: 10, ClipDir: dir}
	p.defaults()
	m, err := prepareMedia(context.Background(), &p, note)
	if err != nil {
		t.Fatal(err)
	}
	m.cleanup() // a clip folder is the user's: cleanup leaves it
	if m.synthetic || filepath.Dir(m.videoFile) != dir || filepath.Dir(m.audioFile) != dir || len(notes) != 1 {
		t.Fatalf("%+v, notes %q", m, notes)
	}
	for _, f := range []string{m.videoFile, m.audioFile} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	first := *m
	p.FFmpeg = filepath.Join(t.TempDir(), "no-such-ffmpeg")
	m, err = prepareMedia(context.Background(), &p, note)
	if err != nil || m.synthetic || m.videoFile != first.videoFile || m.audioFile != first.audioFile || len(notes) != 1 {
		t.Errorf("second run: %+v, %v, notes %q", m, err, notes)
	}
	// Other settings, another clip.
	p.Bitrate = 123_000
	p.FFmpeg = ""
	m, err = prepareMedia(context.Background(), &p, note)
	if err != nil || m.videoFile == first.videoFile || m.audioFile != first.audioFile {
		t.Errorf("another bitrate: %+v, %v", m, err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(names) != 0 {
		t.Errorf("temporary files left: %v", names)
	}
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, tty: true}
	p.show("joining [==  ] 1/4")
	p.show("joining [====] 4/4")
	p.note("a note")
	p.show("running")
	p.end()
	want := "\rjoining [==  ] 1/4\x1b[K\rjoining [====] 4/4\x1b[K\r\x1b[Kloadtest: a note\n\rrunning\x1b[K\n"
	if b.String() != want {
		t.Errorf("terminal:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	p = &progress{w: &b}
	p.show("one")
	p.note("a note")
	p.show("two")
	p.end()
	if want := "one\nloadtest: a note\ntwo\n"; b.String() != want {
		t.Errorf("not a terminal: %q, want %q", b.String(), want)
	}
	(&progress{}).show("to nowhere") // no writer: nothing, no panic
	for _, c := range []struct {
		done, total int
		want        string
	}{{0, 4, "[    ]"}, {2, 4, "[==  ]"}, {4, 4, "[====]"}, {9, 4, "[====]"}, {1, 0, "[====]"}} {
		if got := bar(c.done, c.total, 4); got != c.want {
			t.Errorf("bar(%d, %d) = %q, want %q", c.done, c.total, got, c.want)
		}
	}
}

// On a terminal the live line fits 79 columns whatever the numbers, and
// errors are never cut off.
func TestLiveLine(t *testing.T) {
	big := Sample{T: 100, PacketsInPerSec: 1234567, BitsInPerSec: 9.9e9, PacketsOutPerSec: 98765, LossPercent: 12.5,
		DelayP50Ms: 1234.5, DelayP99Ms: 98765.4, ServerCPUPercent: 199, ServerRSSMB: 12345}
	r := &run{plan: Plan{Sessions: 100, VideoPublishers: 10, Subscribers: 1000, ServerPID: 1}, start: time.Now(), out: &progress{tty: true}}
	r.nerrs = 12345
	for _, phase := range []int32{phaseJoining, phaseSteady} {
		r.phase.Store(phase)
		line := r.liveLine(big)
		if len(line) > 79 || !strings.Contains(line, "12345") {
			t.Errorf("phase %d: %q (%d columns)", phase, line, len(line))
		}
	}
	r.out.tty = false
	if line := r.liveLine(big); !strings.Contains(line, "9.90 Gbit/s") || !strings.Contains(line, "server 199% cpu") {
		t.Errorf("not a terminal: %q", line)
	}
}
