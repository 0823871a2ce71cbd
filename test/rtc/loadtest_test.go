package rtc

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/loadtest"
	"github.com/parleyhq/parley/test/live"
)

// TestLoadtestCLI runs `parley loadtest` as a user would, against a live
// server on loopback: two video publishers (VP8 and Opus clips that
// ffmpeg makes at the start) and four subscribers for 5 s, with the
// server's pid, a JSON report and an SVG chart. The report must be sane:
// everyone joined, every packet arrived, delays and jitter measured, the
// server's CPU and memory read, and a chart with a path per series.
func TestLoadtestCLI(t *testing.T) {
	live.Require(t, "ffmpeg")
	srv := live.Start(t)
	dir := t.TempDir()
	chart := filepath.Join(dir, "load.svg")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, live.Binary(t), "loadtest",
		"--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.Secret(t),
		"--video-publishers", "2", "--with-audio", "--subscribers", "4", "--duration", "5s",
		"--width", "320", "--height", "240", "--bitrate", "300000",
		"--server-pid", strconv.Itoa(srv.PID()), "--json", "--chart", chart)
	cmd.Env = append(os.Environ(), "PARLEY_CONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("parley loadtest: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Logf("stderr:\n%s", stderr.String())

	// Every field a machine reads is there, under its name.
	var fields map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &fields); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	for _, f := range []string{"sessions", "clients", "joined", "errors", "media", "codec", "synthetic", "simulcast", "tracks",
		"seconds", "packetsIn", "packetsOut", "packetsInPerSec", "packetsOutPerSec", "bitsInPerSec", "bitsOutPerSec",
		"lossPercent", "delayP50Ms", "delayP99Ms", "delaySamples", "jitterMs", "jitterMaxMs", "video", "audio",
		"joinP50Ms", "joinP99Ms", "server", "client", "machine", "timeline"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("the JSON report has no %q", f)
		}
	}
	var rep loadtest.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	rep.Print(&pretty)
	t.Logf("report:\n%s", pretty.String())

	if rep.Joined != 6 || rep.Errors != 0 {
		t.Errorf("joined %d of %d, errors %d %v", rep.Joined, rep.Clients, rep.Errors, rep.ErrorSamples)
	}
	if rep.Synthetic || rep.Codec != "vp8" || !strings.Contains(rep.Media, "VP8 clip") || !strings.Contains(rep.Media, "Opus clip") {
		t.Errorf("media %q (synthetic %v, codec %s)", rep.Media, rep.Synthetic, rep.Codec)
	}
	// 4 subscribers × 2 publishers × (video + audio).
	if rep.Tracks != 16 || rep.Video == nil || rep.Audio == nil || rep.Video.Tracks != 8 || rep.Audio.Tracks != 8 {
		t.Errorf("tracks %d, video %+v, audio %+v", rep.Tracks, rep.Video, rep.Audio)
	}
	if ratio := rep.PacketsInPerSec / rep.PacketsOutPerSec; ratio < 3.5 || ratio > 4.5 {
		t.Errorf("in %.0f pkt/s for out %.0f pkt/s: each packet should reach 4 subscribers", rep.PacketsInPerSec, rep.PacketsOutPerSec)
	}
	if rep.BitsOutPerSec < 2*300_000*0.7 || rep.BitsInPerSec < 3.5*rep.BitsOutPerSec {
		t.Errorf("bits/s out %.0f, in %.0f", rep.BitsOutPerSec, rep.BitsInPerSec)
	}
	if rep.LossPercent != 0 {
		t.Errorf("loss %.3f %% on loopback", rep.LossPercent)
	}
	// Delays come from the send logs (clip payloads carry no time), on
	// both kinds.
	if rep.Video.DelaySamples == 0 || rep.Audio.DelaySamples == 0 || rep.DelayP50Ms <= 0 || rep.DelayP99Ms < rep.DelayP50Ms {
		t.Errorf("delay p50 %v p99 %v ms; samples video %d, audio %d", rep.DelayP50Ms, rep.DelayP99Ms, rep.Video.DelaySamples, rep.Audio.DelaySamples)
	}
	if rep.JitterMs <= 0 || rep.JitterMaxMs < rep.JitterMs || rep.JoinP50Ms <= 0 || rep.JoinP99Ms < rep.JoinP50Ms {
		t.Errorf("jitter %v (max %v) ms, join p50 %v p99 %v ms", rep.JitterMs, rep.JitterMaxMs, rep.JoinP50Ms, rep.JoinP99Ms)
	}
	if s := rep.Server; s == nil || s.Error != "" || s.PID != srv.PID() || s.CPUSeconds <= 0 || s.RSSStartMB <= 0 ||
		s.RSSPeakMB < s.RSSStartMB || s.CPUPerPacketUs <= 0 || s.PacketsPerCoreSecond <= 0 {
		t.Errorf("server %+v", rep.Server)
	}
	if n := len(rep.Timeline); n < 4 || rep.Timeline[n-1].Phase != "steady" || rep.Timeline[n-1].ServerRSSMB <= 0 {
		t.Errorf("timeline %+v", rep.Timeline)
	}
	if !strings.Contains(stderr.String(), "clips made with") || !strings.Contains(stderr.String(), "running 6/6") {
		t.Errorf("stderr lacks the clip note or the live line")
	}

	// The chart: well-formed SVG, one path per series.
	doc, err := os.ReadFile(chart)
	if err != nil {
		t.Fatal(err)
	}
	var series []string
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "path" {
			for _, a := range se.Attr {
				if a.Name.Local == "data-series" {
					series = append(series, a.Value)
				}
			}
		}
	}
	slices.Sort(series)
	want := []string{"client-cpu", "delay-p50", "delay-p99", "loss", "machine-cpu", "packets-in", "packets-out", "server-cpu"}
	if !slices.Equal(series, want) {
		t.Errorf("chart series %v, want %v", series, want)
	}
}

// TestLoadtestCLISimulcast runs `parley loadtest --simulcast` with a PNG
// chart: one publisher sends three layers (160x90, 320x180, 640x360 VP8
// clips), three subscribers ask for one layer each. Each layer reaches its
// subscriber: the bits received add up to the layers' rates, not three
// times the best one's, and nothing is lost.
func TestLoadtestCLISimulcast(t *testing.T) {
	live.Require(t, "ffmpeg")
	srv := live.Start(t)
	chart := filepath.Join(t.TempDir(), "load.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, live.Binary(t), "loadtest",
		"--url", srv.URL, "--api-key", srv.APIKey, "--api-secret", srv.Secret(t),
		"--video-publishers", "1", "--subscribers", "3", "--duration", "4s", "--simulcast",
		"--width", "640", "--height", "360", "--bitrate", "800000", "--json", "--chart", chart)
	cmd.Env = append(os.Environ(), "PARLEY_CONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("parley loadtest: %v\nstderr:\n%s", err, stderr.String())
	}
	var rep loadtest.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, stdout.String())
	}
	var pretty bytes.Buffer
	rep.Print(&pretty)
	t.Logf("report:\n%s", pretty.String())
	if !rep.Simulcast || rep.SimulcastPick != "spread" || !strings.Contains(rep.Media, "160x90") || !strings.Contains(rep.Media, "640x360") {
		t.Errorf("simulcast %v pick %q media %q", rep.Simulcast, rep.SimulcastPick, rep.Media)
	}
	if rep.Joined != 4 || rep.Errors != 0 || rep.Tracks != 3 || rep.LossPercent != 0 {
		t.Errorf("joined %d, errors %d %v, tracks %d, loss %.3f %%", rep.Joined, rep.Errors, rep.ErrorSamples, rep.Tracks, rep.LossPercent)
	}
	// The publisher sends 10 + 30 + 100 % of 800 kbit/s; the subscribers
	// get one layer each, the same sum. Without layers they would get
	// three times the best one (2.4 Mbit/s).
	if rep.BitsInPerSec > 1.4*rep.BitsOutPerSec || rep.BitsInPerSec < 0.6*rep.BitsOutPerSec {
		t.Errorf("bits/s in %.0f for out %.0f: each subscriber should get one layer", rep.BitsInPerSec, rep.BitsOutPerSec)
	}
	f, err := os.Open(chart)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() < 500 {
		t.Fatalf("the chart is not a PNG of a sensible size: %v", err)
	}
}
