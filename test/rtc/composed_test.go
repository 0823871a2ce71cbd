package rtc

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/archive/s3test"
	"github.com/parleyhq/parley/internal/layout"
	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
	"github.com/parleyhq/parley/test/live"
)

// colourClip encodes a VP8 clip of one solid colour.
func colourClip(t *testing.T, ffmpeg, dir, colour string) string {
	t.Helper()
	return encode(t, ffmpeg, dir, colour+".ivf", "-f", "lavfi", "-i", "color=c="+colour+":size=320x240:rate=30",
		"-t", clipSeconds, "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30",
		"-c:v", pickEncoder(t, ffmpeg, "libvpx"), "-b:v", "200k", "-deadline", "realtime", "-cpu-used", "8")
}

// rgb is a pixel.
type rgb struct{ r, g, b int }

func (c rgb) String() string { return fmt.Sprintf("rgb(%d,%d,%d)", c.r, c.g, c.b) }

// colourName names a pixel's colour roughly: red, blue, black or other.
func (c rgb) name() string {
	switch {
	case c.r > 150 && c.g < 90 && c.b < 90:
		return "red"
	case c.b > 150 && c.r < 90 && c.g < 90:
		return "blue"
	case c.r < 40 && c.g < 40 && c.b < 40:
		return "black"
	}
	return "other " + c.String()
}

// frameAt decodes the picture of an MP4 at second at, as RGB.
func frameAt(t *testing.T, ffmpeg, file string, at float64, w, h int) func(x, y int) rgb {
	t.Helper()
	out, err := exec.Command(ffmpeg, "-v", "error", "-ss", strconv.FormatFloat(at, 'f', 2, 64), "-i", file,
		"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil || len(out) != w*h*3 {
		t.Fatalf("frame at %.2f s of %s: %v (%d bytes)", at, file, err, len(out))
	}
	return func(x, y int) rgb {
		i := (y*w + x) * 3
		return rgb{int(out[i]), int(out[i+1]), int(out[i+2])}
	}
}

// TestArchiveComposed records a composed archive of two publishers, a
// red one from the start and a blue one that joins after 3 s, with the
// layout changed to picture-in-picture at 6 s, and checks the MP4 as a
// viewer would see it: H.264 at the requested size with AAC, as long as
// the recording, and at each moment the picture the layout says.
func TestArchiveComposed(t *testing.T) {
	ffmpeg := live.Require(t, "ffmpeg")
	ffprobe, _, audio := clips(t)
	dir := t.TempDir()
	red, blue := colourClip(t, ffmpeg, dir, "red"), colourClip(t, ffmpeg, dir, "blue")
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a := e.connect(t, sid, opentok.RolePublisher, "name=red")
	b := e.connect(t, sid, opentok.RolePublisher, "name=blue")
	media := rtcclient.PublishOptions{Audio: true, Video: true, Width: 320, Height: 240, VideoFile: red, AudioFile: audio, Name: "red"}
	if _, err := a.Publish(ctx, media); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)

	const w, h = 1280, 720
	t0 := time.Now()
	ar, err := e.ot.StartArchive(ctx, sid, opentok.ArchiveOptions{Name: "composed", Resolution: "1280x720"})
	if err != nil {
		t.Fatal(err)
	}
	if ar.Status != "started" || ar.OutputMode != opentok.Composed || ar.Resolution != "1280x720" {
		t.Fatalf("started: %+v", ar)
	}
	time.Sleep(3 * time.Second)
	media.VideoFile, media.Name = blue, "blue"
	tBlue := time.Now()
	if _, err := b.Publish(ctx, media); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	tPip := time.Now()
	if err := e.ot.SetArchiveLayout(ctx, ar.ID, opentok.Layout{Type: "pip"}); err != nil {
		t.Fatal(err)
	}
	if err := e.ot.SetArchiveLayout(ctx, ar.ID, opentok.Layout{Type: "custom"}); !errors400(err) {
		t.Errorf("custom layout without a stylesheet: %v, want 400", err)
	}
	time.Sleep(4 * time.Second)
	if _, err := e.ot.StopArchive(ctx, ar.ID); err != nil {
		t.Fatal(err)
	}
	recorded := time.Since(t0)
	start := time.Now()
	done := waitArchiveFor(t, e.ot, ar.ID, 60*time.Second)
	t.Logf("composed %.1f s of recording in %v", recorded.Seconds(), time.Since(start).Round(time.Millisecond))
	if done.Status != "available" || done.URL == nil || done.Size <= 0 {
		t.Fatalf("archive %+v", done)
	}
	if !strings.Contains(*done.URL, "/v2/archives/"+ar.ID+".mp4?") {
		t.Errorf("url %s, want the MP4", *done.URL)
	}
	file := filepath.Join(dir, "archive.mp4")
	download(t, *done.URL, file, "video/mp4", done.Size)

	p := probeFile(t, ffprobe, file)
	t.Logf("archive.mp4: %.2f s of %s, %d video frames; recorded for %.2f s", p.duration, strings.Join(p.codecs, "+"), p.videoFrames, recorded.Seconds())
	if strings.Join(p.codecs, "+") != "aac+h264" {
		t.Errorf("codecs %v, want h264 and aac", p.codecs)
	}
	if math.Abs(p.duration-recorded.Seconds()) > 1 {
		t.Errorf("%.2f s long, recorded for %.2f s", p.duration, recorded.Seconds())
	}
	if size := probeSize(t, ffprobe, file); size != "1280x720" {
		t.Errorf("video %s, want 1280x720", size)
	}
	if p.errors != "" {
		t.Errorf("ffprobe reported errors decoding it:\n%s", p.errors)
	}

	// What the layouts say the picture holds.
	boxes := func(spec layout.Spec, ids ...string) []layout.Box {
		l, err := layout.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		var streams []layout.Stream
		for _, id := range ids {
			streams = append(streams, layout.Stream{ID: id, VideoType: "camera"})
		}
		return l.Place(w, h, streams)
	}
	check := func(at float64, want []layout.Box) {
		t.Helper()
		px := frameAt(t, ffmpeg, file, at, w, h)
		for _, bx := range want {
			// The middle of the part of the box nothing covers.
			x, y := bx.X+bx.W/2, bx.Y+bx.H/2
			if bx.StreamID == "red" && len(want) > 1 && want[1].Z > bx.Z {
				x, y = bx.X+bx.W/4, bx.Y+bx.H/4
			}
			if got := px(x, y).name(); got != bx.StreamID {
				t.Errorf("at %.1f s, (%d, %d) in the box of %s is %s", at, x, y, bx.StreamID, got)
			}
		}
	}
	blueAt := tBlue.Sub(t0).Seconds()
	pipAt := tPip.Sub(t0).Seconds()
	check(blueAt-1, boxes(layout.Spec{Type: "bestFit"}, "red"))
	check(pipAt-0.8, boxes(layout.Spec{Type: "bestFit"}, "red", "blue"))
	check(pipAt+1.5, boxes(layout.Spec{Type: "pip"}, "red", "blue"))
	// Before anyone but red: no blue anywhere in bestFit's second tile.
	if two := boxes(layout.Spec{Type: "bestFit"}, "red", "blue"); len(two) == 2 {
		px := frameAt(t, ffmpeg, file, blueAt-1, w, h)
		if got := px(two[1].X+two[1].W/2, two[1].Y+two[1].H/2).name(); got == "blue" {
			t.Errorf("blue's tile shows blue at %.1f s, before it was published", blueAt-1)
		}
	}
	audioLevel(t, ffmpeg, file)

	if err := e.ot.DeleteArchive(ctx, ar.ID); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(*done.URL); err != nil || resp.StatusCode != 404 {
		t.Errorf("download after delete: %v %v", resp, err)
	}
}

// TestArchiveComposedAudioOnly: hasVideo false gives an MP4 of AAC alone.
func TestArchiveComposedAudioOnly(t *testing.T) {
	ffmpeg := live.Require(t, "ffmpeg")
	ffprobe, video, audio := clips(t)
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := e.connect(t, sid, opentok.RolePublisher, "name=A")
	if _, err := a.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true, Width: 320, Height: 240,
		VideoFile: video, AudioFile: audio}); err != nil {
		t.Fatal(err)
	}
	ar, err := e.ot.StartArchive(ctx, sid, opentok.ArchiveOptions{VideoOff: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if _, err := e.ot.StopArchive(ctx, ar.ID); err != nil {
		t.Fatal(err)
	}
	done := waitArchiveFor(t, e.ot, ar.ID, 30*time.Second)
	if done.Status != "available" || done.HasVideo || done.URL == nil {
		t.Fatalf("archive %+v", done)
	}
	file := filepath.Join(t.TempDir(), "audio.mp4")
	download(t, *done.URL, file, "video/mp4", done.Size)
	p := probeFile(t, ffprobe, file)
	if strings.Join(p.codecs, "+") != "aac" || p.duration < 2 {
		t.Errorf("%.2f s of %v, want AAC alone", p.duration, p.codecs)
	}
	audioLevel(t, ffmpeg, file)
}

// TestArchiveComposedAV1: a composed archive is made from the streams'
// files, so an AV1 stream, recorded into WebM, is in its picture (ffmpeg
// decodes the file with libdav1d; only reading AV1 over RTP, as a
// broadcast's live compositor does, takes a newer ffmpeg than Debian
// 12's 5.1).
func TestArchiveComposedAV1(t *testing.T) {
	ffmpeg := live.Require(t, "ffmpeg")
	ffprobe, _, audio := clips(t)
	enc := pickEncoder(t, ffmpeg, av1Encoders...)
	red := encode(t, ffmpeg, t.TempDir(), "red.ivf", append([]string{"-f", "lavfi", "-i", "color=c=red:size=320x240:rate=30",
		"-t", clipSeconds, "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30", "-c:v", enc}, encoderOptions[enc]...)...)
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := e.connect(t, sid, opentok.RolePublisher, "name=red")
	if _, err := a.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true, Width: 320, Height: 240,
		VideoFile: red, AudioFile: audio, Name: "red"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	ar, err := e.ot.StartArchive(ctx, sid, opentok.ArchiveOptions{Name: "av1", Resolution: "640x480"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	if _, err := e.ot.StopArchive(ctx, ar.ID); err != nil {
		t.Fatal(err)
	}
	recorded := time.Since(t0)
	done := waitArchiveFor(t, e.ot, ar.ID, 60*time.Second)
	if done.Status != "available" || done.URL == nil {
		t.Fatalf("archive %+v", done)
	}
	file := filepath.Join(t.TempDir(), "archive.mp4")
	download(t, *done.URL, file, "video/mp4", done.Size)
	p := probeFile(t, ffprobe, file)
	t.Logf("archive.mp4 from %s: %.2f s of %s, %d video frames; recorded for %.2f s", enc, p.duration, strings.Join(p.codecs, "+"),
		p.videoFrames, recorded.Seconds())
	if strings.Join(p.codecs, "+") != "aac+h264" || math.Abs(p.duration-recorded.Seconds()) > 1 || p.errors != "" {
		t.Errorf("%+v, want %.2f s of H.264 and AAC without errors", p, recorded.Seconds())
	}
	// The stream's file starts at its first keyframe, a second at most
	// after the start: from then on its picture fills the canvas.
	for _, at := range []float64{1.5, recorded.Seconds() - 0.8} {
		if got := frameAt(t, ffmpeg, file, at, 640, 480)(320, 240).name(); got != "red" {
			t.Errorf("at %.1f s the middle of the picture is %s, want the AV1 stream's red", at, got)
		}
	}
}

// errors400 reports whether err is the server's 400.
func errors400(err error) bool {
	return err != nil && strings.Contains(err.Error(), "400")
}

// waitArchiveFor polls until the archive leaves started and stopped.
func waitArchiveFor(t *testing.T, ot *opentok.Client, id string, d time.Duration) *opentok.Archive {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		a, err := ot.GetArchive(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != "started" && a.Status != "stopped" {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive %s still %s after %v", id, a.Status, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// download fetches url into file, checking its type and size.
func download(t *testing.T, url, file, contentType string, size int64) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != contentType || int64(len(b)) != size {
		t.Fatalf("download: %d %s, %d bytes (size %d), %v", resp.StatusCode, resp.Header.Get("Content-Type"), len(b), size, err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// probeSize returns the WxH of a file's video.
func probeSize(t *testing.T, ffprobe, file string) string {
	t.Helper()
	out, err := exec.Command(ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
		"-of", "csv=s=x:p=0", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// audioLevel fails t when a file's audio is silent.
func audioLevel(t *testing.T, ffmpeg, file string) {
	t.Helper()
	out, _ := exec.Command(ffmpeg, "-v", "info", "-i", file, "-map", "0:a", "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	_, after, ok := strings.Cut(string(out), "mean_volume: ")
	if !ok {
		t.Fatalf("volumedetect: %s", out)
	}
	v, err := strconv.ParseFloat(strings.Fields(after)[0], 64)
	if err != nil || v < -45 {
		t.Errorf("mean volume %s dB: the mix is silent", strings.Fields(after)[0])
	}
}

// TestArchiveUploadedToS3: with the project's archive storage set to a
// bucket of a real S3-compatible server, a composed archive ends
// uploaded, its MP4 in the bucket where OpenTok puts it; deleting the
// archive deletes the object.
func TestArchiveUploadedToS3(t *testing.T) {
	ffprobe, video, audio := clips(t)
	s3 := s3test.Start(t)
	s3.MakeBucket("recordings")
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := e.ot.SetArchiveStorage(ctx, opentok.ArchiveStorage{Type: "s3", Fallback: "none",
		Config: opentok.ArchiveStorageConfig{AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: "recordings",
			Endpoint: "http://" + s3.Endpoint}}); err != nil {
		t.Fatal(err)
	}
	sid := e.session(t, opentok.Routed)
	a := e.connect(t, sid, opentok.RolePublisher, "name=A")
	if _, err := a.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true, Width: 320, Height: 240,
		VideoFile: video, AudioFile: audio}); err != nil {
		t.Fatal(err)
	}
	ar, err := e.ot.StartArchive(ctx, sid, opentok.ArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if _, err := e.ot.StopArchive(ctx, ar.ID); err != nil {
		t.Fatal(err)
	}
	done := waitArchiveFor(t, e.ot, ar.ID, 30*time.Second)
	if done.Status != "uploaded" || done.URL != nil {
		t.Fatalf("archive %+v, want uploaded without a url", done)
	}
	name := e.srv.APIKey + "/" + ar.ID + "/archive.mp4"
	b, err := s3.Object("recordings", name)
	if err != nil {
		t.Fatalf("object %s: %v", name, err)
	}
	file := filepath.Join(t.TempDir(), "archive.mp4")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if p := probeFile(t, ffprobe, file); strings.Join(p.codecs, "+") != "aac+h264" || p.duration < 2 {
		t.Errorf("the uploaded MP4: %.2f s of %v", p.duration, p.codecs)
	}
	if err := e.ot.DeleteArchive(ctx, ar.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Object("recordings", name); err == nil {
		t.Error("the object is still in the bucket after the archive was deleted")
	}
}

// TestComposedArchiveSurvivesKill: a composed archive whose server is
// killed with SIGKILL while it records is composed at the next start from
// what was written, as long as the recording up to the kill.
func TestComposedArchiveSurvivesKill(t *testing.T) {
	ffprobe, video, audio := clips(t)
	got, _, killed := recordThenKill(t, video, audio, opentok.ArchiveOptions{})
	if got.Status != "available" || got.URL == nil || !strings.Contains(*got.URL, ".mp4?") {
		t.Fatalf("archive %+v after the restart, want an available MP4", got)
	}
	file := filepath.Join(t.TempDir(), "archive.mp4")
	download(t, *got.URL, file, "video/mp4", got.Size)
	p := probeFile(t, ffprobe, file)
	if strings.Join(p.codecs, "+") != "aac+h264" || math.Abs(p.duration-killed.Seconds()) > 1 || p.errors != "" {
		t.Errorf("%.2f s of %v (errors %q), want h264 and aac for %.2f s", p.duration, p.codecs, p.errors, killed.Seconds())
	}
}
