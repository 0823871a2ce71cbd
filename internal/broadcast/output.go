package broadcast

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// An output takes the compositor's MPEG-TS and sends it somewhere with an
// ffmpeg of its own that copies the streams (no encoding): the HLS muxer
// writing the playlist Parley serves, or a pusher to one RTMP target.
// Each has a bounded queue, so that a slow or dead one never holds the
// compositor or the other outputs back; a pusher that fails is retried
// with a growing pause while the others go on.

// Statuses of outputs, in OpenTok's words.
const (
	StatusConnecting = "connecting"
	StatusReady      = "ready" // HLS: the first segment is written
	StatusLive       = "live"
	StatusEnded      = "ended"
	StatusOffline    = "offline" // RTMP: lost, being retried
	StatusError      = "error"
)

// queueChunks bounds an output's queue: the compositor's writes are a few
// KB each, so this is seconds of video.
const queueChunks = 512

// output is one destination of a broadcast.
type output struct {
	name   string // "hls" or the RTMP target's id
	ffmpeg string
	args   func(restart bool) []string
	// live tells from a line of ffmpeg's -progress report, or from the
	// output's files, that media flows.
	live   func() bool
	log    *slog.Logger
	change func(status, reason string)
	retry  bool // RTMP: start again after a failure

	queue chan []byte
	done  chan struct{}

	mu      sync.Mutex
	status  string
	dropped int
}

func newOutput(name, ffmpeg string, log *slog.Logger, change func(status, reason string)) *output {
	return &output{name: name, ffmpeg: ffmpeg, log: log, change: change, status: StatusConnecting,
		queue: make(chan []byte, queueChunks), done: make(chan struct{})}
}

// offer queues a copy of p, or drops it when the queue is full. It never
// blocks.
func (o *output) offer(p []byte) {
	b := make([]byte, len(p))
	copy(b, p)
	select {
	case o.queue <- b:
	default:
		o.mu.Lock()
		o.dropped++
		o.mu.Unlock()
	}
}

func (o *output) setStatus(status, reason string) {
	o.mu.Lock()
	same := o.status == status
	o.status = status
	o.mu.Unlock()
	if !same && o.change != nil {
		o.change(status, reason)
	}
}

// Status returns the output's status.
func (o *output) Status() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.status
}

// run feeds ffmpeg until ctx ends (a hard stop) or the queue is closed
// (the broadcast stopped: ffmpeg gets its end of input and finishes the
// output). It starts ffmpeg again after a failure when retry is set.
func (o *output) run(ctx context.Context) {
	defer close(o.done)
	backoff := time.Second
	for attempt := 0; ; attempt++ {
		closed, err := o.once(ctx, attempt > 0)
		switch {
		case closed && err == nil:
			o.setStatus(StatusEnded, "")
			return
		case closed || ctx.Err() != nil:
			o.setStatus(StatusEnded, "")
			return
		case !o.retry:
			o.setStatus(StatusError, errText(err))
			o.drain(ctx)
			return
		}
		o.log.Warn("broadcast: output failed; retrying", "output", o.name, "in", backoff, "err", err)
		o.setStatus(StatusOffline, errText(err))
		// While waiting, what comes is thrown away: the next attempt
		// starts from the live edge.
		t := time.NewTimer(backoff)
	wait:
		for {
			select {
			case <-t.C:
				break wait
			case _, ok := <-o.queue:
				if !ok {
					t.Stop()
					o.setStatus(StatusEnded, "")
					return
				}
			case <-ctx.Done():
				t.Stop()
				o.setStatus(StatusEnded, "")
				return
			}
		}
		backoff = min(2*backoff, 30*time.Second)
		o.setStatus(StatusConnecting, "")
	}
}

// drain empties the queue until it is closed, so that a failed output
// costs nothing.
func (o *output) drain(ctx context.Context) {
	for {
		select {
		case _, ok := <-o.queue:
			if !ok {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// once runs one ffmpeg. closed reports that the queue was closed (the
// broadcast ended) while it ran.
func (o *output) once(ctx context.Context, restart bool) (closed bool, err error) {
	cmd := exec.Command(o.ffmpeg, o.args(restart)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return false, err
	}
	progress, err := cmd.StdoutPipe()
	if err != nil {
		return false, err
	}
	stderr := &tail{max: 2048}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return false, err
	}
	exited := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// -progress reports total_size=N every half second; media flows
		// once it grows.
		// The HLS muxer writes files of its own, and says N/A: its
		// first segment tells instead.
		sc := bufio.NewScanner(progress)
		for sc.Scan() {
			line := sc.Text()
			if o.live != nil {
				if strings.HasPrefix(line, "progress=") && o.live() {
					o.setStatus(StatusLive, "")
				}
				continue
			}
			if v, ok := strings.CutPrefix(line, "total_size="); ok {
				if n, _ := strconv.ParseInt(v, 10, 64); n > 0 {
					o.setStatus(StatusLive, "")
				}
			}
		}
	}()
	go func() {
		wg.Wait()
		exited <- cmd.Wait()
	}()
	write := func(b []byte) error {
		_, err := stdin.Write(b)
		return err
	}
	for {
		select {
		case b, ok := <-o.queue:
			if !ok {
				stdin.Close()
				select {
				case err := <-exited:
					return true, exitErr(err, stderr)
				case <-time.After(10 * time.Second):
					cmd.Process.Kill()
					return true, exitErr(<-exited, stderr)
				case <-ctx.Done():
					cmd.Process.Kill()
					<-exited
					return true, ctx.Err()
				}
			}
			if err := write(b); err != nil {
				stdin.Close()
				cmd.Process.Kill()
				return false, exitErr(<-exited, stderr)
			}
		case err := <-exited:
			stdin.Close()
			if err == nil {
				err = errors.New("ffmpeg ended")
			}
			return false, exitErr(err, stderr)
		case <-ctx.Done():
			stdin.Close()
			cmd.Process.Kill()
			<-exited
			return false, ctx.Err()
		}
	}
}

func exitErr(err error, stderr *tail) error {
	if err == nil {
		return nil
	}
	// An output joins the stream anywhere, so ffmpeg's look at the
	// input complains of pictures before the first keyframe: not the
	// reason it failed.
	var lines []string
	for line := range strings.Lines(stderr.String()) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "Last message repeated") ||
			(strings.HasPrefix(line, "[") && (strings.Contains(line, "PPS") || strings.Contains(line, "slice") ||
				strings.Contains(line, "no frame"))) {
			continue
		}
		lines = append(lines, line)
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	if len(lines) > 0 {
		return fmt.Errorf("%w: %s", err, strings.Join(lines, "; "))
	}
	return err
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	b   []byte
	max int
}

// Write keeps the end of what ffmpeg says.
func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// hlsArgs are the HLS muxer's: segments of 2 s (1 s for low latency) in
// dir, a sliding playlist of the last few, or every segment with DVR.
func hlsArgs(dir string, dvr, lowLatency bool) func(restart bool) []string {
	return func(restart bool) []string {
		seg := "2"
		if lowLatency {
			seg = "1"
		}
		flags := "independent_segments+program_date_time+temp_file"
		list := "6"
		if dvr {
			list = "0"
		} else {
			flags += "+delete_segments"
		}
		if restart {
			flags += "+append_list+discont_start"
		}
		args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1",
			"-analyzeduration", "2500000", "-f", "mpegts", "-i", "pipe:0", "-c", "copy", "-f", "hls", "-hls_time", seg, "-hls_list_size", list,
			"-hls_flags", flags, "-hls_segment_filename", filepath.Join(dir, "segment-%05d.ts")}
		if dvr {
			args = append(args, "-hls_playlist_type", "event")
		}
		return append(args, filepath.Join(dir, PlaylistName))
	}
}

// PlaylistName is the HLS playlist's file name.
const PlaylistName = "playlist.m3u8"

// rtmpArgs are an RTMP pusher's.
func rtmpArgs(url string) func(bool) []string {
	return func(bool) []string {
		return []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1",
			"-analyzeduration", "2500000", "-f", "mpegts", "-i", "pipe:0", "-c", "copy", "-f", "flv", "-flvflags", "no_duration_filesize", "-rw_timeout", "10000000", url}
	}
}

// fanout is the compositor's writer: it offers every write to each
// output.
type fanout struct {
	mu      sync.Mutex
	outputs []*output
	closed  bool
}

func (f *fanout) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		for _, o := range f.outputs {
			o.offer(p)
		}
	}
	return len(p), nil
}

// close ends every output's queue: they finish what they have and stop.
func (f *fanout) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	for _, o := range f.outputs {
		close(o.queue)
	}
}

var _ io.Writer = (*fanout)(nil)

// firstSegment reports whether dir holds a finished segment.
func firstSegment(dir string) func() bool {
	return func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "segment-*.ts"))
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && st.Size() > 0 {
				return true
			}
		}
		return false
	}
}
