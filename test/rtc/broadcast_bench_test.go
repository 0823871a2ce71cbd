package rtc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
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

// blinkPeriod is how long the benchmark's clip is red, then blue.
const blinkPeriod = 3300 * time.Millisecond

// BenchmarkBroadcastDelay measures how long a publisher's picture takes
// to reach a broadcast's outputs, and what a broadcast costs the server.
// The publisher plays a clip that is red for 3.3 s, then blue for 3.3 s
// (not a whole number of 2 s segments, so that changes fall inside them); the
// time its first blue frame is sent is known. An RTMP server on loopback
// decodes what it receives as it arrives, and the HLS playlist is polled:
// the delay is from the blue frame leaving the publisher to the first
// blue picture decoded at the RTMP server, and to the listing of the HLS
// segment that holds it. CPU is the server's and its ffmpegs', from
// /proc, over the run.
//
//	go test -run '^$' -bench BroadcastDelay -benchtime 1x ./test/rtc/
func BenchmarkBroadcastDelay(b *testing.B) {
	ffmpeg := live.Require(b, "ffmpeg")
	dir := b.TempDir()
	half := strconv.FormatFloat(blinkPeriod.Seconds(), 'f', 1, 64)
	clip := filepath.Join(dir, "blink.ivf")
	if out, err := exec.Command(ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i",
		"color=c=red:s=640x480:r=30:d="+half+"[r];color=c=blue:s=640x480:r=30:d="+half+"[b];[r][b]concat=n=2:v=1:a=0",
		"-c:v", "libvpx", "-b:v", "800k", "-g", "30", "-deadline", "realtime", "-cpu-used", "8", clip).CombinedOutput(); err != nil {
		b.Fatalf("clip: %v %s", err, out)
	}
	audio := filepath.Join(dir, "tone.ogg")
	if out, err := exec.Command(ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8",
		"-c:a", "libopus", "-b:a", "32k", "-page_duration", "20000", audio).CombinedOutput(); err != nil {
		b.Fatalf("audio: %v %s", err, out)
	}
	e := &env{srv: live.Start(b)}
	e.ot = opentok.New(e.srv.APIKey, e.srv.Secret(b), e.srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := e.ot.CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := e.ot.GenerateToken(s.ID, opentok.TokenOptions{Role: opentok.RolePublisher})
	c, err := rtcclient.Connect(ctx, e.srv.URL, s.ID, tok, rtcclient.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	pub, err := c.Publish(ctx, rtcclient.PublishOptions{Audio: true, Video: true, Width: 640, Height: 480, VideoFile: clip, AudioFile: audio})
	if err != nil {
		b.Fatal(err)
	}
	// The clip's blue halves start at VideoStart + half + k periods.
	blueAt := func(t time.Time) time.Time {
		n := t.Sub(pub.VideoStart.Add(blinkPeriod)) / (2 * blinkPeriod)
		return pub.VideoStart.Add(blinkPeriod + n*2*blinkPeriod)
	}

	// The RTMP server: decoded pictures on stdout, 64x48 RGB.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	rtmpURL := fmt.Sprintf("rtmp://127.0.0.1:%d/live", port)
	srv := exec.Command(ffmpeg, "-v", "error", "-nostdin", "-listen", "1", "-timeout", "60", "-fflags", "nobuffer",
		"-i", rtmpURL+"/bench", "-vf", "scale=64:48", "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
	frames, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	var (
		mu        sync.Mutex
		rtmpDelay []time.Duration
	)
	go func() {
		r := bufio.NewReaderSize(frames, 1<<16)
		buf := make([]byte, 64*48*3)
		wasBlue := true
		for {
			if _, err := io.ReadFull(r, buf); err != nil {
				return
			}
			now := time.Now()
			i := (24*64 + 32) * 3
			blue := buf[i+2] > 150 && buf[i] < 90
			if blue && !wasBlue {
				mu.Lock()
				rtmpDelay = append(rtmpDelay, now.Sub(blueAt(now)))
				mu.Unlock()
			}
			wasBlue = blue
		}
	}()

	cpuBefore := treeCPU(e.srv.PID())
	t0 := time.Now()
	br, err := e.ot.StartBroadcast(ctx, s.ID, opentok.BroadcastOptions{HLS: &opentok.BroadcastHLS{},
		RTMP: []opentok.BroadcastRTMP{{ID: "bench", ServerURL: rtmpURL, StreamName: "bench"}}, Resolution: "640x480"})
	if err != nil {
		b.Fatal(err)
	}
	// HLS: poll the playlist; a new segment that holds a red-to-blue
	// change was listed that long after the change.
	var hlsDelay []time.Duration
	seen := map[string]bool{}
	run := 40 * time.Second
	b.ResetTimer()
	for time.Since(t0) < run {
		time.Sleep(100 * time.Millisecond)
		pl := fetch(br.BroadcastURLs.HLS)
		now := time.Now()
		for _, line := range strings.Split(pl, "\n") {
			if !strings.HasSuffix(line, ".ts") || seen[line] {
				continue
			}
			seen[line] = true
			seg := strings.TrimSuffix(br.BroadcastURLs.HLS, "playlist.m3u8") + line
			change, err := changesToBlue(ffmpeg, seg)
			if err != nil {
				b.Logf("segment %s: %v", line, err)
			}
			if change {
				hlsDelay = append(hlsDelay, now.Sub(blueAt(now)))
			}
		}
	}
	b.StopTimer()
	elapsed := time.Since(t0)
	cpu := treeCPU(e.srv.PID()) - cpuBefore
	if _, err := e.ot.StopBroadcast(ctx, br.ID); err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rtmpDelay) == 0 || len(hlsDelay) == 0 {
		b.Fatalf("no change seen: rtmp %v, hls %v", rtmpDelay, hlsDelay)
	}
	b.ReportMetric(median(rtmpDelay).Seconds(), "s-rtmp-delay")
	b.ReportMetric(median(hlsDelay).Seconds(), "s-hls-delay")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds()*100, "%cpu")
	b.Logf("RTMP delays %v; HLS delays %v; server and ffmpegs used %.1f s of CPU in %.1f s", rtmpDelay, hlsDelay,
		cpu.Seconds(), elapsed.Seconds())
}

func fetch(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// changesToBlue reports whether an HLS segment shows red, then blue.
func changesToBlue(ffmpeg, url string) (bool, error) {
	out, err := exec.Command(ffmpeg, "-v", "error", "-i", url, "-vf", "scale=8:6", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil {
		return false, err
	}
	red := false
	for i := 0; i+8*6*3 <= len(out); i += 8 * 6 * 3 {
		p := out[i+(3*8+4)*3:]
		switch {
		case p[0] > 150 && p[2] < 90:
			red = true
		case p[2] > 150 && p[0] < 90 && red:
			return true, nil
		}
	}
	return false, nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// treeCPU is the CPU time of a process and all its descendants, from
// /proc (Linux only; 0 elsewhere).
func treeCPU(root int) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	parent := map[int]int{}
	ticks := map[int]int64{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses.
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		parent[pid], ticks[pid] = ppid, ut+st
	}
	var total int64
	for pid, t := range ticks {
		for p := pid; p != 0; p = parent[p] {
			if p == root {
				total += t
				break
			}
			if _, ok := parent[p]; !ok {
				break
			}
		}
	}
	return time.Duration(total) * time.Second / 100 // USER_HZ
}
