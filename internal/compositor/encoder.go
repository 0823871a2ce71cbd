package compositor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// videoBuffers is the number of canvases in flight: one being written
	// to the encoder, one being painted.
	videoBuffers = 2
	// audioBuffers is one second of 20 ms blocks.
	audioBuffers = 50
	audioBitrate = "128k"
)

// encoder is the ffmpeg that turns canvases (raw yuv420p on its stdin) and
// the mix (s16le on pipe 3) into MPEG-TS on its stdout, which goes to
// Config.Out. Its inputs carry no timestamps: the n-th canvas is at n/FPS
// and the n-th sample at n/48000, so the clock keeps both counts in step
// with real time and the output's timestamps are continuous whatever
// happens to the sources.
type encoder struct {
	c    *Compositor
	cmd  *exec.Cmd
	tail *logTail

	video io.WriteCloser // nil without video
	audio *os.File       // nil without audio

	vq, vfree chan *picture
	aq, afree chan []byte
	// vdebt counts frame slots the video writer owes: it fills them by
	// writing its last canvas again.
	vdebt atomic.Int64

	bytes atomic.Int64
	wg    sync.WaitGroup // the writers and the copier

	done chan struct{} // closed when the process has exited
	err  error         // why it exited, when not because of finish

	finishing atomic.Bool // Close is ending the stream
	killed    atomic.Bool // and had to kill the process
}

// defaultBitrate is about 0.1 bit per pixel, within 250 kbit/s and
// 8 Mbit/s: 768 kbit/s for 640x480 at 25 fps, 2.3 Mbit/s for 720p.
func defaultBitrate(w, h, fps int) int {
	return min(max(w*h*fps/10, 250_000), 8_000_000)
}

// encoderArgs is the encoder's command line.
func encoderArgs(cfg Config) []string {
	args := []string{"-hide_banner", "-nostats", "-nostdin", "-loglevel", "error"}
	if cfg.Video {
		args = append(args,
			"-f", "rawvideo", "-pix_fmt", "yuv420p",
			"-video_size", strconv.Itoa(cfg.Width)+"x"+strconv.Itoa(cfg.Height),
			"-framerate", strconv.Itoa(cfg.FPS),
			"-probesize", "32", "-fpsprobesize", "0", "-analyzeduration", "0",
			"-thread_queue_size", "8", "-i", "pipe:0")
	}
	if cfg.Audio {
		args = append(args,
			"-f", "s16le", "-ar", strconv.Itoa(sampleRate), "-ac", strconv.Itoa(channels),
			"-probesize", "32", "-analyzeduration", "0",
			"-thread_queue_size", "64", "-i", "pipe:3")
	}
	if cfg.Video {
		rate := cfg.VideoBitrate
		if rate == 0 {
			rate = defaultBitrate(cfg.Width, cfg.Height, cfg.FPS)
		}
		gop := strconv.Itoa(2 * cfg.FPS)
		args = append(args, "-map", "0:v:0",
			"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
			"-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-bf", "0",
			"-b:v", strconv.Itoa(rate), "-maxrate", strconv.Itoa(rate), "-bufsize", strconv.Itoa(2*rate))
	}
	if cfg.Audio {
		in := "0"
		if cfg.Video {
			in = "1"
		}
		args = append(args, "-map", in+":a:0",
			"-c:a", "aac", "-b:a", audioBitrate, "-ar", strconv.Itoa(sampleRate), "-ac", strconv.Itoa(channels))
	}
	return append(args, "-f", "mpegts", "-flush_packets", "1", "pipe:1")
}

// startEncoder starts the encoder process and its writers.
func startEncoder(c *Compositor) (*encoder, error) {
	cfg := c.cfg
	e := &encoder{c: c, tail: newLogTail(c.log.With("process", "encoder")), done: make(chan struct{})}
	e.cmd = newCommand(c.ffmpeg, encoderArgs(cfg), e.tail)
	var audioRead *os.File
	if cfg.Audio {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		audioRead, e.audio = r, w
		e.cmd.ExtraFiles = []*os.File{r}
	}
	fail := func(err error) (*encoder, error) {
		if audioRead != nil {
			audioRead.Close()
			e.audio.Close()
		}
		return nil, err
	}
	if cfg.Video {
		w, err := e.cmd.StdinPipe()
		if err != nil {
			return fail(err)
		}
		e.video = w
	}
	stdout, err := e.cmd.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	if err := e.cmd.Start(); err != nil {
		return fail(fmt.Errorf("compositor: start encoder: %w", err))
	}
	if audioRead != nil {
		audioRead.Close() // the child has its copy
	}

	if cfg.Video {
		e.vq, e.vfree = make(chan *picture, videoBuffers), make(chan *picture, videoBuffers)
		for range videoBuffers {
			e.vfree <- newPicture(cfg.Width, cfg.Height)
		}
		e.wg.Add(1)
		go e.writeVideo()
	}
	if cfg.Audio {
		e.aq, e.afree = make(chan []byte, audioBuffers), make(chan []byte, audioBuffers)
		for range audioBuffers {
			e.afree <- make([]byte, chunkBytes)
		}
		e.wg.Add(1)
		go e.writeAudio()
	}
	e.wg.Add(1)
	go e.copyOut(stdout)
	return e, nil
}

// writeVideo writes the canvases to the encoder, each slot it owes again.
// After a write error it goes on taking canvases, so that the clock never
// waits, and drops them.
func (e *encoder) writeVideo() {
	defer e.wg.Done()
	broken := false
	write := func(p *picture) {
		if broken {
			return
		}
		if _, err := e.video.Write(p.buf); err != nil {
			broken = true
			e.writeFailed("video", err)
		}
	}
	for p := range e.vq {
		write(p)
		for e.vdebt.Load() > 0 {
			e.vdebt.Add(-1)
			write(p)
		}
		e.vfree <- p
	}
	e.video.Close() // end of input: the encoder flushes and exits
}

// writeAudio writes the mixed blocks to the encoder.
func (e *encoder) writeAudio() {
	defer e.wg.Done()
	broken := false
	for b := range e.aq {
		if !broken {
			if _, err := e.audio.Write(b); err != nil {
				broken = true
				e.writeFailed("audio", err)
			}
		}
		e.afree <- b
	}
	e.audio.Close()
}

func (e *encoder) writeFailed(what string, err error) {
	if !e.finishing.Load() {
		e.c.log.Error("compositor: encoder stopped taking "+what, "err", err)
	}
}

// copyOut copies the MPEG-TS to Config.Out until the encoder exits, then
// waits for the process. A failing Out is logged once and skipped: the
// encoder must not stall on it.
func (e *encoder) copyOut(stdout io.Reader) {
	defer e.wg.Done()
	buf := make([]byte, 64<<10)
	var outErr error
	for {
		n, err := stdout.Read(buf)
		if n > 0 {
			e.bytes.Add(int64(n))
			if outErr == nil {
				if _, outErr = e.c.cfg.Out.Write(buf[:n]); outErr != nil {
					e.c.log.Error("compositor: output write failed; discarding the rest", "err", outErr)
				}
			}
		}
		if err != nil {
			break
		}
	}
	err := e.cmd.Wait()
	switch {
	case e.killed.Load():
		e.err = errors.New("compositor: encoder did not finish in time; killed")
	case err != nil || !e.finishing.Load():
		if err == nil {
			err = errors.New("exited")
		}
		e.err = exitError("encoder", err, e.tail)
		if !e.finishing.Load() {
			e.c.log.Error("compositor: encoder stopped", "err", e.err)
		}
	}
	close(e.done)
}

// finish ends the encoder's input and waits for it to write the end of
// the stream, killing it if it does not within encoderStopWait. The clock
// must have stopped.
func (e *encoder) finish() error {
	e.finishing.Store(true)
	if e.vq != nil {
		close(e.vq)
	}
	if e.aq != nil {
		close(e.aq)
	}
	t := time.NewTimer(encoderStopWait)
	defer t.Stop()
	select {
	case <-e.done:
	case <-t.C:
		e.killed.Store(true)
		e.cmd.Process.Kill()
		<-e.done
	}
	e.wg.Wait()
	return e.err
}
