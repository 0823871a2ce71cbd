package rtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
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

// rtmpServer is ffmpeg listening for one RTMP push on loopback, writing
// what it gets into a file.
type rtmpServer struct {
	URL  string // rtmp://127.0.0.1:port/live
	File string
	done chan struct{} // closed when ffmpeg exits, err set
	err  error
}

func startRTMPServer(t *testing.T, ffmpeg string) *rtmpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &rtmpServer{URL: fmt.Sprintf("rtmp://127.0.0.1:%d/live", port), File: filepath.Join(t.TempDir(), "rtmp.flv"),
		done: make(chan struct{})}
	cmd := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-listen", "1", "-timeout", "60",
		"-i", s.URL+"/show", "-c", "copy", "-f", "flv", s.File)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		s.err = err
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	// No probe of the port: ffmpeg -listen takes the first connection,
	// whatever it is. The broadcast retries a target that is not there
	// yet.
	return s
}

// playlist fetches an HLS playlist.
func playlist(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return ""
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
		t.Errorf("playlist Content-Type %q", ct)
	}
	return string(b)
}

var mediaSequenceRE = regexp.MustCompile(`#EXT-X-MEDIA-SEQUENCE:(\d+)`)

// lastSegment is the number of the playlist's last segment.
func lastSegment(pl string) int {
	n := -1
	for _, line := range strings.Split(pl, "\n") {
		if strings.HasSuffix(line, ".ts") {
			n++
		}
	}
	seq := 0
	if m := mediaSequenceRE.FindStringSubmatch(pl); m != nil {
		seq, _ = strconv.Atoi(m[1])
	}
	return seq + n
}

// TestBroadcast streams a session of two real publishers to HLS, to a
// real RTMP server on loopback, and to an RTMP target nobody listens on,
// and checks what viewers would get: an HLS playlist that ffprobe reads as
// H.264 + AAC and whose segments advance, the same codecs at the RTMP
// server, the dead target reported without disturbing the others, and
// the playlist ended by the stop.
func TestBroadcast(t *testing.T) {
	ffmpeg := live.Require(t, "ffmpeg")
	ffprobe, _, audio := clips(t)
	dir := t.TempDir()
	red, blue := colourClip(t, ffmpeg, dir, "red"), colourClip(t, ffmpeg, dir, "blue")
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	var (
		hookMu sync.Mutex
		hooks  []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ID, Status, Event string
			BroadcastURLs     struct {
				HLSStatus string `json:"hlsStatus"`
				RTMP      []struct{ ID, Status string }
			} `json:"broadcastUrls"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err == nil && body.Event == "broadcast" {
			var rtmp []string
			for _, x := range body.BroadcastURLs.RTMP {
				rtmp = append(rtmp, x.ID+"="+x.Status)
			}
			hookMu.Lock()
			hooks = append(hooks, body.Status+" hls="+body.BroadcastURLs.HLSStatus+" "+strings.Join(rtmp, " "))
			hookMu.Unlock()
		}
	}))
	defer hook.Close()
	if _, err := e.ot.RegisterCallback(ctx, "broadcastStatus", hook.URL); err != nil {
		t.Fatal(err)
	}

	relayed := e.session(t, opentok.Relayed)
	e.connect(t, relayed, opentok.RolePublisher, "x")
	if _, err := e.ot.StartBroadcast(ctx, relayed, opentok.BroadcastOptions{HLS: &opentok.BroadcastHLS{}}); !isStatus(err, 409) {
		t.Errorf("broadcasting a relayed session: %v, want 409", err)
	}

	sid := e.session(t, opentok.Routed)
	a := e.connect(t, sid, opentok.RolePublisher, "name=red")
	b := e.connect(t, sid, opentok.RolePublisher, "name=blue")
	for _, p := range []struct {
		c    *rtcclient.Client
		file string
	}{{a, red}, {b, blue}} {
		if _, err := p.c.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true, Width: 320, Height: 240,
			VideoFile: p.file, AudioFile: audio}); err != nil {
			t.Fatal(err)
		}
	}
	rtmp := startRTMPServer(t, ffmpeg)
	for _, bad := range []opentok.BroadcastOptions{
		{},
		{HLS: &opentok.BroadcastHLS{DVR: true, LowLatency: true}},
		{RTMP: []opentok.BroadcastRTMP{{ServerURL: "http://example.com/x", StreamName: "k"}}},
		{HLS: &opentok.BroadcastHLS{}, Resolution: "800x600"},
		{HLS: &opentok.BroadcastHLS{}, Layout: &opentok.Layout{Type: "custom", Stylesheet: "stream {"}},
	} {
		if _, err := e.ot.StartBroadcast(ctx, sid, bad); !isStatus(err, 400) {
			t.Errorf("start %+v: %v, want 400", bad, err)
		}
	}
	t0 := time.Now()
	br, err := e.ot.StartBroadcast(ctx, sid, opentok.BroadcastOptions{
		HLS:        &opentok.BroadcastHLS{},
		RTMP:       []opentok.BroadcastRTMP{{ID: "good", ServerURL: rtmp.URL, StreamName: "show"}, {ID: "dead", ServerURL: "rtmp://127.0.0.1:1/live", StreamName: "x"}},
		Resolution: "640x480", MaxDuration: 300,
	})
	if err != nil {
		t.Fatal(err)
	}
	if br.Status != "started" || br.BroadcastURLs == nil || !strings.HasSuffix(br.BroadcastURLs.HLS, ".m3u8") || len(br.BroadcastURLs.RTMP) != 2 {
		t.Fatalf("started: %+v", br)
	}
	if _, err := e.ot.StartBroadcast(ctx, sid, opentok.BroadcastOptions{HLS: &opentok.BroadcastHLS{}}); !isStatus(err, 409) {
		t.Errorf("a second broadcast without a tag: %v, want 409", err)
	}
	hlsURL := br.BroadcastURLs.HLS

	// The playlist appears and advances.
	var first string
	deadline := time.Now().Add(30 * time.Second)
	for first == "" || !strings.Contains(first, ".ts") {
		if time.Now().After(deadline) {
			t.Fatalf("no HLS segment within 30 s; playlist %q", first)
		}
		time.Sleep(250 * time.Millisecond)
		first = playlist(t, hlsURL)
	}
	t.Logf("first HLS segment listed %.1f s after the start", time.Since(t0).Seconds())
	time.Sleep(5 * time.Second)
	second := playlist(t, hlsURL)
	if lastSegment(second) <= lastSegment(first) {
		t.Errorf("segments do not advance:\n%s\n---\n%s", first, second)
	}
	if p := probeURL(t, ffprobe, hlsURL); p != "aac+h264" {
		t.Errorf("HLS codecs %q, want h264 and aac", p)
	}

	// The dead target is reported while the rest goes on; the good one
	// is live.
	deadline = time.Now().Add(20 * time.Second)
	for {
		got, err := e.ot.GetBroadcast(ctx, br.ID)
		if err != nil {
			t.Fatal(err)
		}
		st := map[string]string{}
		for _, r := range got.BroadcastURLs.RTMP {
			st[r.ID] = r.Status
		}
		if st["good"] == "live" && st["dead"] == "offline" && got.BroadcastURLs.HLSStatus == "live" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("statuses: rtmp %v, hls %s; want good live, dead offline, hls live", st, got.BroadcastURLs.HLSStatus)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// A layout change goes on air without a break: the playlist keeps
	// advancing.
	before := lastSegment(playlist(t, hlsURL))
	if err := e.ot.SetBroadcastLayout(ctx, br.ID, opentok.Layout{Type: "pip"}); err != nil {
		t.Fatalf("set layout: %v", err)
	}
	if err := e.ot.SetBroadcastLayout(ctx, br.ID, opentok.Layout{Type: "grid"}); !isStatus(err, 400) {
		t.Errorf("an unknown layout: %v, want 400", err)
	}
	time.Sleep(4 * time.Second)
	if after := lastSegment(playlist(t, hlsURL)); after <= before {
		t.Errorf("no new segment after the layout change (%d, then %d)", before, after)
	}

	stopped, err := e.ot.StopBroadcast(ctx, br.ID)
	if err != nil || stopped.Status != "stopped" {
		t.Fatalf("stop: %+v %v", stopped, err)
	}
	if _, err := e.ot.StopBroadcast(ctx, br.ID); !isStatus(err, 404) {
		t.Errorf("stopping twice: %v, want 404", err)
	}
	if pl := playlist(t, hlsURL); !strings.Contains(pl, "#EXT-X-ENDLIST") {
		t.Errorf("the playlist does not end after the stop:\n%s", pl)
	}
	select {
	case <-rtmp.done:
		if rtmp.err != nil {
			t.Errorf("the RTMP server: %v", rtmp.err)
		}
	case <-time.After(15 * time.Second):
		t.Error("the RTMP push did not end with the broadcast")
	}
	if p := probeFile(t, ffprobe, rtmp.File); strings.Join(p.codecs, "+") != "aac+h264" || p.duration < 3 {
		t.Errorf("at the RTMP server: %.1f s of %v, want h264 and aac", p.duration, p.codecs)
	}
	list, n, err := e.ot.ListBroadcasts(ctx, sid, 0, 0)
	if err != nil || n != 1 || len(list) != 1 || list[0].Status != "stopped" {
		t.Errorf("list: %d %+v %v", n, list, err)
	}

	deadline = time.Now().Add(10 * time.Second)
	for {
		hookMu.Lock()
		got := strings.Join(hooks, "\n")
		hookMu.Unlock()
		if strings.Contains(got, "started") && strings.Contains(got, "dead=offline") && strings.Contains(got, "good=live") &&
			strings.Contains(got, "stopped") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broadcast status callbacks:\n%s", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// probeURL returns the codecs ffprobe finds at url, sorted and joined.
func probeURL(t *testing.T, ffprobe, url string) string {
	t.Helper()
	out, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", url).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", url, err)
	}
	var codecs []string
	for _, l := range strings.Fields(string(out)) {
		codecs = append(codecs, strings.Trim(l, ","))
	}
	// An HLS playlist lists its streams once per program too.
	slices.Sort(codecs)
	codecs = slices.Compact(codecs)
	return strings.Join(codecs, "+")
}

// isStatus reports whether err is the server's answer with that status.
func isStatus(err error, status int) bool {
	var e *opentok.Error
	return errors.As(err, &e) && e.Status == status
}
