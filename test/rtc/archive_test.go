package rtc

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
	"github.com/parleyhq/parley/test/live"
)

// clips encodes the VP8 IVF and Ogg Opus files the archive tests publish.
func clips(t *testing.T) (ffprobe, video, audio string) {
	t.Helper()
	ffmpeg := live.Require(t, "ffmpeg")
	ffprobe = live.Require(t, "ffprobe")
	dir := t.TempDir()
	audio = encode(t, ffmpeg, dir, "sine.ogg",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration="+clipSeconds,
		"-c:a", pickEncoder(t, ffmpeg, "libopus"), "-b:a", "32k", "-page_duration", "20000")
	video = encode(t, ffmpeg, dir, "clip.ivf", append(slices.Clone(ffmpegVideo),
		"-c:v", pickEncoder(t, ffmpeg, "libvpx"), "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8")...)
	return ffprobe, video, audio
}

// archiveManifest is the manifest of an individual archive's zip.
type archiveManifest struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	SessionID string `json:"sessionId"`
	CreatedAt int64  `json:"createdAt"`
	Files     []struct {
		Filename        string `json:"filename"`
		StreamID        string `json:"streamId"`
		ConnectionData  string `json:"connectionData"`
		StartTimeOffset int64  `json:"startTimeOffset"`
		StopTimeOffset  int64  `json:"stopTimeOffset"`
		Size            int64  `json:"size"`
		HasVideo        bool   `json:"hasVideo"`
		VideoCodec      string `json:"videoCodec"`
		Note            string `json:"note"`
	} `json:"files"`
}

// probed is what ffprobe says of a media file.
type probed struct {
	duration    float64
	codecs      []string
	videoFrames int // decoded
	errors      string
}

// probeFile runs ffprobe on path, decoding every frame: a file that does
// not start on a keyframe, or has holes, shows as decoding errors.
func probeFile(t *testing.T, ffprobe, path string) probed {
	t.Helper()
	cmd := exec.Command(ffprobe, "-v", "error", "-count_frames", "-show_entries",
		"format=duration:stream=codec_type,codec_name,nb_read_frames", "-of", "json", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, stderr.String())
	}
	var res struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			Type   string `json:"codec_type"`
			Name   string `json:"codec_name"`
			Frames string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe: %s", out)
	}
	p := probed{errors: stderr.String()}
	p.duration, _ = strconv.ParseFloat(res.Format.Duration, 64)
	for _, s := range res.Streams {
		p.codecs = append(p.codecs, s.Name)
		if s.Type == "video" {
			p.videoFrames, _ = strconv.Atoi(s.Frames)
		}
	}
	slices.Sort(p.codecs)
	return p
}

// fetchZip downloads an archive through its url and unzips it into a
// folder, returning the manifest.
func fetchZip(t *testing.T, a *opentok.Archive, dir string) archiveManifest {
	t.Helper()
	if a.URL == nil {
		t.Fatalf("archive %s has no url", a.ID)
	}
	resp, err := http.Get(*a.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" || int64(len(b)) != a.Size {
		t.Fatalf("download: %d %s, %d bytes (size %d)", resp.StatusCode, resp.Header.Get("Content-Type"), len(b), a.Size)
	}
	path := filepath.Join(dir, a.ID+".zip")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var m archiveManifest
	for _, f := range zr.File {
		if strings.Contains(f.Name, "/") || strings.Contains(f.Name, "..") {
			t.Fatalf("zip entry %q", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == a.ID+".json" {
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// waitArchive polls until the archive leaves the stopped status.
func waitArchive(t *testing.T, ot *opentok.Client, id string) *opentok.Archive {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, err := ot.GetArchive(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != "started" && a.Status != "stopped" {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive %s still %s", id, a.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestArchiveIndividual records two publishers of real VP8 and Opus,
// one joining midway, and checks every file the way a user would: it
// plays in ffprobe, as VP8 and Opus, for as long as it was recorded.
func TestArchiveIndividual(t *testing.T) {
	ffprobe, video, audio := clips(t)
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := e.connect(t, sid, opentok.RolePublisher, "name=A")
	b := e.connect(t, sid, opentok.RolePublisher, "name=B")
	media := rtcclient.PublishOptions{Audio: true, Video: true, Width: 320, Height: 240, VideoFile: video, AudioFile: audio}
	media.Name = "A"
	pa, err := a.Publish(ctx, media)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)

	// An archive status callback receiver sees every status change.
	var (
		statusMu sync.Mutex
		statuses []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ ID, Status, Event, URL string }
		if err := json.NewDecoder(r.Body).Decode(&body); err == nil && body.Event == "archive" {
			statusMu.Lock()
			statuses = append(statuses, body.Status)
			if body.Status == "available" && body.URL == "" {
				statuses = append(statuses, "available-without-url")
			}
			statusMu.Unlock()
		}
	}))
	defer hook.Close()
	if _, err := e.ot.RegisterCallback(ctx, "archiveStatus", hook.URL); err != nil {
		t.Fatal(err)
	}

	t0 := time.Now()
	ar, err := e.ot.StartArchive(ctx, sid, opentok.ArchiveOptions{Name: "two", OutputMode: opentok.Individual})
	if err != nil {
		t.Fatal(err)
	}
	if ar.Status != "started" {
		t.Fatalf("started: %+v", ar)
	}
	ev := waitEvent(t, b, 5*time.Second, isType("archiveStarted"))
	if ev.ArchiveID != ar.ID || ev.Name != "two" {
		t.Errorf("archiveStarted %+v", ev)
	}
	time.Sleep(2 * time.Second)
	media.Name = "B"
	tb := time.Now()
	pb, err := b.Publish(ctx, media)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	stopped, err := e.ot.StopArchive(ctx, ar.ID)
	t1 := time.Now()
	if err != nil || stopped.Status != "stopped" {
		t.Fatalf("stop: %+v, %v", stopped, err)
	}
	if ev := waitEvent(t, a, 5*time.Second, isType("archiveStopped")); ev.ArchiveID != ar.ID {
		t.Errorf("archiveStopped %+v", ev)
	}
	if _, err := e.ot.StopArchive(ctx, ar.ID); err == nil {
		t.Error("stopping twice succeeded")
	}

	done := waitArchive(t, e.ot, ar.ID)
	deadline := time.Now().Add(5 * time.Second)
	for {
		statusMu.Lock()
		got := strings.Join(statuses, " ")
		statusMu.Unlock()
		if got == "started stopped available" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive status callbacks: %q, want started stopped available (with a url)", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recorded := t1.Sub(t0)
	if done.Status != "available" || math.Abs(float64(done.Duration)-recorded.Seconds()) > 1 {
		t.Fatalf("archive %+v, recorded for %v", done, recorded)
	}
	dir := t.TempDir()
	m := fetchZip(t, done, dir)
	if m.ID != ar.ID || m.SessionID != sid || m.Name != "two" || len(m.Files) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	want := map[string]struct {
		data string
		from time.Time
	}{pa.StreamID: {"name=A", t0}, pb.StreamID: {"name=B", tb}}
	for _, f := range m.Files {
		w, ok := want[f.StreamID]
		if !ok || f.ConnectionData != w.data || f.Filename != f.StreamID+".webm" {
			t.Errorf("manifest file %+v", f)
			continue
		}
		p := probeFile(t, ffprobe, filepath.Join(dir, f.Filename))
		// What the stream was in the archive for: from the start (A) or
		// its publishing (B) to the stop.
		span := t1.Sub(w.from).Seconds()
		offset := time.UnixMilli(m.CreatedAt + f.StartTimeOffset).Sub(t0).Seconds()
		t.Logf("%s (%s): %.2f s of %s, %d video frames decoded; recorded for %.2f s; starts %.2f s after the archive; %d bytes",
			f.Filename, f.ConnectionData, p.duration, strings.Join(p.codecs, "+"), p.videoFrames, span, offset, f.Size)
		if strings.Join(p.codecs, "+") != "opus+vp8" {
			t.Errorf("%s: codecs %v, want vp8 and opus", f.Filename, p.codecs)
		}
		if math.Abs(p.duration-span) > 1 {
			t.Errorf("%s: %.2f s long, recorded for %.2f s", f.Filename, p.duration, span)
		}
		if p.videoFrames < int(25*(span-1.5)) {
			t.Errorf("%s: %d video frames decoded in %.2f s", f.Filename, p.videoFrames, span)
		}
		if p.errors != "" {
			t.Errorf("%s: ffprobe reported errors decoding it:\n%s", f.Filename, p.errors)
		}
		if d := time.Duration(f.StopTimeOffset-f.StartTimeOffset) * time.Millisecond; math.Abs(d.Seconds()-p.duration) > 0.2 {
			t.Errorf("%s: manifest says %v, the file %.2f s", f.Filename, d, p.duration)
		}
	}
	if m.Files[0].StreamID != pa.StreamID || m.Files[1].StartTimeOffset < 1500 {
		t.Errorf("offsets: %+v", m.Files)
	}

	// The link serves ranges, and nothing once the archive is deleted.
	req, _ := http.NewRequest("GET", *done.URL, nil)
	req.Header.Set("Range", "bytes=0-3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(head) != "PK\x03\x04" {
		t.Errorf("range request: %d %q", resp.StatusCode, head)
	}
	if err := e.ot.DeleteArchive(ctx, ar.ID); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(*done.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("download after delete: %d", resp.StatusCode)
	}
	if _, err := e.ot.GetArchive(ctx, ar.ID); !errors.Is(err, opentok.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
}

// recordThenKill publishes a clip, records it with o for 4 s, kills the
// server with SIGKILL, restarts it on the same data folder, and returns
// the archive once it has left started and stopped, the stream's id, and
// how long it recorded until the kill.
func recordThenKill(t *testing.T, video, audio string, o opentok.ArchiveOptions) (*opentok.Archive, string, time.Duration) {
	t.Helper()
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := e.connect(t, sid, opentok.RolePublisher, "name=K")
	p, err := c.Publish(ctx, rtcclient.PublishOptions{Name: "K", Audio: true, Video: true, Width: 320, Height: 240,
		VideoFile: video, AudioFile: audio})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	ar, err := e.ot.StartArchive(ctx, sid, o)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	e.srv.Kill()
	killed := time.Since(t0)
	c.Close()

	srv := live.StartIn(t, e.srv.Data)
	got := waitArchiveFor(t, opentok.New(srv.APIKey, srv.Secret(t), srv.URL), ar.ID, 30*time.Second)
	t.Logf("after the restart: %s, reason %q, %d s, %d bytes; killed %.2f s into the recording", got.Status, got.Reason,
		got.Duration, got.Size, killed.Seconds())
	return got, p.StreamID, killed
}

// TestArchiveSurvivesKill kills the server with SIGKILL while it records
// and restarts it on the same data folder: the archive comes back
// available, its file playing up to the kill.
func TestArchiveSurvivesKill(t *testing.T) {
	ffprobe, video, audio := clips(t)
	got, streamID, killed := recordThenKill(t, video, audio, opentok.ArchiveOptions{OutputMode: opentok.Individual})
	if got.Status != "available" {
		t.Fatalf("archive %+v after the restart, want available", got)
	}
	dir := t.TempDir()
	m := fetchZip(t, got, dir)
	if len(m.Files) != 1 || m.Files[0].StreamID != streamID {
		t.Fatalf("manifest %+v", m)
	}
	f := m.Files[0]
	pr := probeFile(t, ffprobe, filepath.Join(dir, f.Filename))
	span := killed.Seconds() - float64(f.StartTimeOffset)/1000
	t.Logf("%s: %.2f s of %s, %d video frames decoded; recorded for %.2f s until the kill", f.Filename, pr.duration,
		strings.Join(pr.codecs, "+"), pr.videoFrames, span)
	if strings.Join(pr.codecs, "+") != "opus+vp8" || math.Abs(pr.duration-span) > 1 || pr.errors != "" {
		t.Errorf("%s: %+v, want vp8 and opus for %.2f s, without errors", f.Filename, pr, span)
	}
	if math.Abs(float64(got.Duration)-killed.Seconds()) > 1 {
		t.Errorf("duration %d s, killed after %.2f s", got.Duration, killed.Seconds())
	}
}

// TestArchiveCodecs records the other video codecs the SFU forwards:
// VP9 into WebM, H.264 into Matroska (with its parameter sets as the
// track's configuration), AV1 into WebM (with its av1C configuration
// from the sequence header), each with its Opus audio.
func TestArchiveCodecs(t *testing.T) {
	ffmpeg := live.Require(t, "ffmpeg")
	ffprobe, _, audio := clips(t)
	e := newEnv(t)
	for _, tc := range []struct {
		name, file, ext, codec string
		encoders               []string // any will do, best first
	}{
		{"VP9", "clip.ivf", ".webm", "vp9", []string{"libvpx-vp9"}},
		{"H264", "clip.h264", ".mkv", "h264", []string{"libx264"}},
		{"AV1", "clip.ivf", ".webm", "av1", av1Encoders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := pickEncoder(t, ffmpeg, tc.encoders...)
			video := encode(t, ffmpeg, t.TempDir(), tc.file, append(append(slices.Clone(ffmpegVideo), "-c:v", enc), encoderOptions[enc]...)...)
			sid := e.session(t, opentok.Routed)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := e.connect(t, sid, opentok.RolePublisher, "codec="+tc.name)
			p, err := c.Publish(ctx, rtcclient.PublishOptions{Name: tc.name, Audio: true, Video: true, Width: 320, Height: 240,
				VideoFile: video, AudioFile: audio})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			t0 := time.Now()
			ar, err := e.ot.StartArchive(ctx, sid, opentok.ArchiveOptions{OutputMode: opentok.Individual})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			if _, err := e.ot.StopArchive(ctx, ar.ID); err != nil {
				t.Fatal(err)
			}
			span := time.Since(t0).Seconds()
			done := waitArchive(t, e.ot, ar.ID)
			dir := t.TempDir()
			m := fetchZip(t, done, dir)
			if len(m.Files) != 1 || m.Files[0].Filename != p.StreamID+tc.ext {
				t.Fatalf("manifest %+v", m)
			}
			if f := m.Files[0]; !f.HasVideo || f.VideoCodec != tc.name || f.Note != "" {
				t.Errorf("manifest file %+v, want %s video", f, tc.name)
			}
			pr := probeFile(t, ffprobe, filepath.Join(dir, m.Files[0].Filename))
			t.Logf("%s (%s): %.2f s of %s, %d video frames decoded; recorded for %.2f s", m.Files[0].Filename, enc, pr.duration,
				strings.Join(pr.codecs, "+"), pr.videoFrames, span)
			want := []string{tc.codec, "opus"}
			slices.Sort(want)
			if !slices.Equal(pr.codecs, want) {
				t.Errorf("codecs %v, want %v", pr.codecs, want)
			}
			if math.Abs(pr.duration-span) > 1 || pr.videoFrames < 30 || pr.errors != "" {
				t.Errorf("%+v, want %.2f s with video frames and no errors", pr, span)
			}
		})
	}
}
