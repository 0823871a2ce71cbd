// Package compositor is the live compositor of broadcasts: it takes the RTP
// packets of several published streams straight from the SFU and turns them
// into one continuous H.264 + AAC MPEG-TS stream of a canvas on which each
// stream's video sits in a box, with all the audio mixed.
//
// Each source track is decoded by an ffmpeg child process that reads the
// track's RTP over loopback UDP and writes raw pictures (yuv4mpegpipe) or
// raw audio (s16le) back. The compositor keeps the latest picture and a
// short PCM ring of every source; a clock paints the canvas at the frame
// rate and mixes 20 ms of audio at a time, and one ffmpeg encoder turns the
// canvases and the mix into MPEG-TS. The inputs and their boxes change while
// it runs (Set) without touching the encoder, so the output never breaks.
package compositor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/sfu"
)

// Source is one published stream's media: the node's SFU stream, or a
// stand-in in tests. It is the same interface as archive.MediaStream.
type Source interface {
	// Codec returns the codec of the stream's track of that kind, or
	// false when the stream has none.
	Codec(kind webrtc.RTPCodecType) (webrtc.RTPCodecParameters, bool)
	// Tap adds a tap to the track of that kind (see sfu.Receiver.Tap): fn
	// runs on the track's read loop and the packet is reused after it
	// returns.
	Tap(kind webrtc.RTPCodecType, fn sfu.TapFunc) (stop func(), err error)
	// RequestKeyframe asks the publisher for a video keyframe.
	RequestKeyframe()
}

// Config describes the output of a Compositor.
type Config struct {
	// Width and Height are the canvas size in pixels: even, 16 to 4096.
	Width, Height int
	// FPS is the output frame rate, 1 to 60; 0 means 25.
	FPS int
	// Audio and Video select the output's streams; at least one is set.
	// Without Video the output is audio only, without Audio video only.
	Audio, Video bool
	// VideoBitrate is the H.264 bit rate in bit/s; 0 picks one from the
	// canvas size and frame rate.
	VideoBitrate int
	// Out receives the MPEG-TS bytes, from one goroutine. A write error is
	// logged and the rest of the stream is discarded, so that the encoder
	// never stalls; Out should not block for long either.
	Out io.Writer
	// FFmpeg is the path of the ffmpeg program; "" looks it up on PATH.
	FFmpeg string
	// Log receives the compositor's and its processes' messages; nil
	// discards them.
	Log *slog.Logger
}

// Fits of a Box.
const (
	// FitCover fills the box, cropping the middle of the picture to the
	// box's shape. It is the default.
	FitCover = "cover"
	// FitContain shows the whole picture, letterboxed on black.
	FitContain = "contain"
)

// Box places a stream's video on the canvas. X, Y, W and H are in canvas
// pixels and rounded down to even values; the part of a box outside the
// canvas is cut off. Boxes are painted in increasing Z, and in the order
// of the inputs for equal Z.
type Box struct {
	StreamID   string
	X, Y, W, H int
	Z          int
	// Fit is FitCover or FitContain; anything else means FitCover.
	Fit string
}

// Input is one stream the compositor shows or mixes.
type Input struct {
	// ID names the input (the stream id); it is unique within a Set.
	ID     string
	Source Source
	// Audio mixes the stream's audio; Video decodes its video for Box.
	Audio, Video bool
	// Box is where the video goes; nil hides it (its audio is still mixed
	// when Audio is set).
	Box *Box
}

// Stats counts what a Compositor has done since Start.
type Stats struct {
	// Frames is the number of canvases composed and sent to the encoder.
	Frames int64
	// FramesLate is the number of frame slots filled by sending the
	// previous canvas again, because the clock or the encoder was behind.
	FramesLate int64
	// FramesDropped is the number of frame slots left out because the
	// encoder was more than a second behind; as much audio is left out.
	FramesDropped int64
	// AudioChunks is the number of 20 ms blocks mixed and sent.
	AudioChunks int64
	// AudioDropped is the number of 20 ms blocks the encoder could not
	// take in time.
	AudioDropped int64
	// Bytes is the number of MPEG-TS bytes written to Out.
	Bytes int64
	// Sources holds the counters of the current inputs by ID.
	Sources map[string]SourceStats
}

// SourceStats counts what happened to one input's media.
type SourceStats struct {
	// Pictures is the number of pictures decoded.
	Pictures int64
	// Width and Height are the size of the latest picture, 0 before one.
	Width, Height int
	// AudioUnderruns is the number of 20 ms blocks mixed as silence
	// because the source's audio had not arrived.
	AudioUnderruns int64
	// AudioDropped is the number of samples (per channel) dropped because
	// the source's audio piled up beyond the latency bound.
	AudioDropped int64
	// PacketsDropped is the number of RTP packets dropped on the way to a
	// decoder (its queue full, or no decoder listening yet).
	PacketsDropped int64
	// Restarts is the number of decoder processes started after the first
	// ones: after a crash or a change of picture size.
	Restarts int64
}

const (
	defaultFPS = 25
	minSide    = 16
	maxSide    = 4096
	// encoderStopWait bounds how long Close waits for the encoder to
	// flush before killing it.
	encoderStopWait = 10 * time.Second
)

// Compositor composes the inputs given to Set into one MPEG-TS stream.
// Its methods are safe for concurrent use.
type Compositor struct {
	cfg    Config
	ffmpeg string
	log    *slog.Logger

	canvas *canvas
	mixer  *mixer
	enc    *encoder

	mu     sync.Mutex
	inputs map[string]*input
	closed bool

	scene atomic.Pointer[scene] // what the clock paints and mixes

	quit       chan struct{} // closed by shutdown: the clock and the feeds stop
	quitOnce   sync.Once
	clockDone  chan struct{}
	finishOnce sync.Once
	finishErr  error
	watcher    sync.WaitGroup // the context watcher
	feeds      sync.WaitGroup // every feed's goroutines

	frames, late, dropped, chunks, audioDropped atomic.Int64
}

// Start checks cfg, starts the encoder and the clock, and returns a
// Compositor showing a black canvas (and mixing silence) until Set gives
// it inputs. When ctx is done the compositor stops and ends the stream as
// Close would; Close must still be called to wait for everything.
func Start(ctx context.Context, cfg Config) (*Compositor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.FPS == 0 {
		cfg.FPS = defaultFPS
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := cfg.FFmpeg
	if path == "" {
		path = "ffmpeg"
	}
	path, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("compositor: ffmpeg: %w", err)
	}
	c := &Compositor{
		cfg:       cfg,
		ffmpeg:    path,
		log:       log,
		inputs:    make(map[string]*input),
		quit:      make(chan struct{}),
		clockDone: make(chan struct{}),
	}
	if cfg.Video {
		c.canvas = newCanvas(cfg.Width, cfg.Height)
	}
	if cfg.Audio {
		c.mixer = newMixer()
	}
	c.scene.Store(&scene{})
	c.enc, err = startEncoder(c)
	if err != nil {
		return nil, err
	}
	go c.runClock()
	c.watcher.Add(1)
	go func() {
		defer c.watcher.Done()
		select {
		case <-ctx.Done():
			c.finish()
		case <-c.quit:
		}
	}()
	return c, nil
}

func (cfg *Config) check() error {
	switch {
	case !cfg.Audio && !cfg.Video:
		return errors.New("compositor: neither audio nor video asked for")
	case cfg.Out == nil:
		return errors.New("compositor: no output writer")
	case cfg.FPS < 1 || cfg.FPS > 60:
		return fmt.Errorf("compositor: frame rate %d out of 1..60", cfg.FPS)
	case cfg.VideoBitrate < 0:
		return fmt.Errorf("compositor: negative video bit rate %d", cfg.VideoBitrate)
	}
	if cfg.Video {
		for _, side := range [...]int{cfg.Width, cfg.Height} {
			if side < minSide || side > maxSide || side%2 != 0 {
				return fmt.Errorf("compositor: canvas %dx%d: sides must be even, %d to %d", cfg.Width, cfg.Height, minSide, maxSide)
			}
		}
	}
	return nil
}

// Set makes the compositor show and mix exactly these inputs from now on:
// it starts decoders for new inputs (and for new kinds of existing ones),
// stops those of inputs no longer listed or no longer shown, and moves the
// boxes at once. Video is decoded only for an input with Video set and a
// Box on the canvas. An input without an ID or a Source, or whose ID
// repeats, is left out with a log line. A Box's StreamID is not used: the
// input's ID is.
func (c *Compositor) Set(inputs []Input) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	seen := make(map[string]bool, len(inputs))
	var placed []*placement
	var mixed []*input
	for _, in := range inputs {
		switch {
		case in.ID == "":
			c.log.Warn("compositor: input without an id left out")
			continue
		case in.Source == nil:
			c.log.Warn("compositor: input without a source left out", "stream", in.ID)
			continue
		case seen[in.ID]:
			c.log.Warn("compositor: input listed twice; the first one counts", "stream", in.ID)
			continue
		}
		seen[in.ID] = true
		wantVideo, wantAudio := in.Video && c.cfg.Video, in.Audio && c.cfg.Audio
		cur := c.inputs[in.ID]
		if cur != nil && !sameSource(cur.src, in.Source) {
			cur.stop()
			delete(c.inputs, in.ID)
			cur = nil
		}
		if cur == nil {
			cur = newInput(c, in.ID, in.Source)
			c.inputs[in.ID] = cur
		}
		// Video is decoded only where it shows.
		var p *placement
		if wantVideo && in.Box != nil {
			p = newPlacement(cur, *in.Box)
		}
		cur.setKinds(p != nil, wantAudio)
		if p != nil {
			placed = append(placed, p)
		}
		if wantAudio {
			mixed = append(mixed, cur)
		}
	}
	for id, cur := range c.inputs {
		if !seen[id] {
			cur.stop()
			delete(c.inputs, id)
		}
	}
	sortPlacements(placed)
	c.scene.Store(&scene{placed: placed, mixed: mixed})
}

// Close stops the inputs and the clock, lets the encoder finish the stream
// (so that its last segment is complete) and waits for every goroutine and
// process. It returns the encoder's error, if it failed. Close may be
// called more than once.
func (c *Compositor) Close() error {
	err := c.finish()
	c.watcher.Wait()
	c.feeds.Wait()
	return err
}

// finish stops the clock and the inputs and ends the stream, once; the
// inputs' decoders stop on their own, in parallel.
func (c *Compositor) finish() error {
	c.finishOnce.Do(func() {
		c.shutdown()
		<-c.clockDone
		c.finishErr = c.enc.finish()
	})
	return c.finishErr
}

// shutdown stops the clock and the inputs.
func (c *Compositor) shutdown() {
	c.quitOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		for id, in := range c.inputs {
			in.stop()
			delete(c.inputs, id)
		}
		c.scene.Store(&scene{})
		c.mu.Unlock()
		close(c.quit)
	})
}

// Done is closed when the encoder has exited: after Close, or when it
// failed on its own (then Err says why and the caller may start another
// Compositor).
func (c *Compositor) Done() <-chan struct{} { return c.enc.done }

// Err returns why the encoder exited, once Done is closed; nil before, or
// when it exited because of Close.
func (c *Compositor) Err() error {
	select {
	case <-c.enc.done:
		return c.enc.err
	default:
		return nil
	}
}

// Stats returns the counters of the compositor and of its current inputs.
func (c *Compositor) Stats() Stats {
	s := Stats{
		Frames:        c.frames.Load(),
		FramesLate:    c.late.Load(),
		FramesDropped: c.dropped.Load(),
		AudioChunks:   c.chunks.Load(),
		AudioDropped:  c.audioDropped.Load(),
		Bytes:         c.enc.bytes.Load(),
	}
	c.mu.Lock()
	s.Sources = make(map[string]SourceStats, len(c.inputs))
	for id, in := range c.inputs {
		s.Sources[id] = in.stats()
	}
	c.mu.Unlock()
	return s
}
