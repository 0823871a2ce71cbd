package archive

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/sfu"
)

// queueSize bounds the packets a stream's recorder may fall behind by,
// ≈ 3 s of a 2 Mbps stream; past it, packets are dropped (and counted)
// rather than slowing the stream's subscribers.
const queueSize = 1024

// maxPendingAudio bounds the audio held while a file waits for the video
// keyframe that opens it (H.264 needs its parameter sets first, AV1 its
// sequence header): 10 s.
const maxPendingAudio = 500

// keyframeAskInterval spaces a recorder's own keyframe requests while it
// waits for one (the SFU throttles them further).
const keyframeAskInterval = time.Second

// Track numbers in a stream's file.
const (
	videoTrackNumber = 1
)

var packetPool = sync.Pool{New: func() any { return &packet{payload: make([]byte, 0, 1500)} }}

func releasePacket(p *packet) { packetPool.Put(p) }

// streamFileConfig is what a stream's recorder needs.
type streamFileConfig struct {
	root  *os.Root
	name  string // the file, relative to root
	media MediaStream
	// video and audio are the codecs of the tracks to record; video.codecID
	// is "" when there is no video to record, audio is false when there is
	// no audio.
	video      mediaCodec
	videoClock uint32
	audio      bool
	// width and height are the announced dimensions, written in the
	// track header (players go by the bitstream's).
	width, height int
	log           *slog.Logger
}

// streamFile records one stream's audio and video into one Matroska file,
// straight from the RTP packets: frames are rebuilt, never decoded. Its
// taps only copy packets into a bounded queue; one goroutine does the
// rest.
type streamFile struct {
	cfg    streamFileConfig
	origin time.Time

	queue    chan *packet
	dropped  atomic.Uint64
	stopTaps []func()
	stop     chan struct{}
	done     chan struct{}

	// Owned by run.
	file         *os.File
	w            *matroskaWriter
	audioTrack   uint64
	asm          *assembler
	videoSSRC    uint32
	vclock       *trackClock
	aclock       *trackClock
	waitKey      bool
	lastAsk      time.Time
	codecPrivate []byte
	pending      []*packet // audio waiting for the file to open
	frames       []frame
	written      int
	result       streamFileResult
}

// streamFileResult is what a stream's recording produced.
type streamFileResult struct {
	opened bool
	// video is set when the file has a video track: false when it was
	// opened without one, the video having never brought what its track
	// needs.
	video bool
	info  mediaInfo
	err   error
	// dropped counts packets the queue had no room for; skipped counts
	// video frames left out because they depended on a lost one.
	dropped, skipped uint64
}

// newStreamFile returns a stream's recorder, not yet tapping.
func newStreamFile(cfg streamFileConfig) *streamFile {
	sf := &streamFile{
		cfg: cfg, origin: time.Now(),
		queue: make(chan *packet, queueSize), stop: make(chan struct{}), done: make(chan struct{}),
		aclock: newTrackClock(48000), waitKey: true,
	}
	if cfg.video.codecID != "" {
		sf.asm = newAssembler(cfg.video.depacketizer)
		sf.asm.release = releasePacket
		sf.vclock = newTrackClock(cfg.videoClock)
	}
	return sf
}

// startStreamFile taps the stream's tracks and starts recording them.
func startStreamFile(cfg streamFileConfig) (*streamFile, error) {
	sf := newStreamFile(cfg)
	if sf.asm != nil {
		stop, err := cfg.media.Tap(webrtc.RTPCodecTypeVideo, sf.tap(true))
		if err != nil {
			return nil, err
		}
		sf.stopTaps = append(sf.stopTaps, stop)
	}
	if cfg.audio {
		stop, err := cfg.media.Tap(webrtc.RTPCodecTypeAudio, sf.tap(false))
		if err != nil {
			sf.stopTapping()
			return nil, err
		}
		sf.stopTaps = append(sf.stopTaps, stop)
	}
	// Before run starts: from then on the assembler and the keyframe
	// clock belong to its goroutine.
	if sf.asm != nil {
		sf.askKeyframe()
	}
	go sf.run()
	return sf, nil
}

// tap copies each packet into the queue, or counts it as dropped when
// the queue is full; it runs on the SFU's read loop and never blocks.
func (sf *streamFile) tap(video bool) sfu.TapFunc {
	return func(pkt *rtp.Packet, keyframe bool) {
		p := packetPool.Get().(*packet)
		*p = packet{
			video: video, seq: pkt.SequenceNumber, ts: pkt.Timestamp, ssrc: pkt.SSRC,
			marker: pkt.Marker, keyframe: keyframe, at: time.Since(sf.origin),
			payload: append(p.payload[:0], pkt.Payload...),
		}
		select {
		case sf.queue <- p:
		default:
			sf.dropped.Add(1)
			packetPool.Put(p)
		}
	}
}

func (sf *streamFile) stopTapping() {
	for _, stop := range sf.stopTaps {
		stop()
	}
}

// close stops the taps, writes what is queued, finishes the file and
// returns what was recorded.
func (sf *streamFile) close() streamFileResult {
	sf.stopTapping()
	close(sf.stop)
	<-sf.done
	return sf.result
}

func (sf *streamFile) run() {
	defer close(sf.done)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case p := <-sf.queue:
			sf.handle(p)
		case <-tick.C:
			sf.tick()
		case <-sf.stop:
			for {
				select {
				case p := <-sf.queue:
					sf.handle(p)
					continue
				default:
				}
				break
			}
			sf.finish()
			return
		}
	}
}

func (sf *streamFile) handle(p *packet) {
	if sf.result.err != nil {
		releasePacket(p)
		return
	}
	if !p.video {
		if sf.audioFrame(p) {
			return // kept until the file opens
		}
		releasePacket(p)
		return
	}
	if sf.asm == nil {
		releasePacket(p)
		return
	}
	if p.ssrc != sf.videoSSRC {
		// A new source (the sender replaced its track): its sequence
		// numbers start afresh, and so does decoding.
		if sf.videoSSRC != 0 {
			sf.asm = newAssembler(sf.cfg.video.depacketizer)
			sf.asm.release = releasePacket
			sf.waitKey = true
		}
		sf.videoSSRC = p.ssrc
	}
	sf.frames = sf.asm.push(p, sf.frames[:0])
	sf.videoFrames()
}

func (sf *streamFile) tick() {
	if sf.result.err != nil {
		return
	}
	if sf.asm != nil {
		sf.frames = sf.asm.tick(time.Since(sf.origin), sf.frames[:0])
		sf.videoFrames()
		if sf.waitKey {
			sf.askKeyframe()
		}
	}
}

func (sf *streamFile) askKeyframe() {
	if time.Since(sf.lastAsk) < keyframeAskInterval {
		return
	}
	sf.lastAsk = time.Now()
	sf.cfg.media.RequestKeyframe()
}

func (sf *streamFile) videoFrames() {
	for _, f := range sf.frames {
		if sf.cfg.video.block != nil {
			data, key, ok := sf.cfg.video.block(f.data)
			if !ok {
				// What follows may depend on it.
				sf.waitKey = true
				sf.result.skipped++
				sf.askKeyframe()
				continue
			}
			f.data, f.keyframe = data, key
		}
		if f.afterLoss && !f.keyframe {
			sf.waitKey = true
		}
		if sf.waitKey && !f.keyframe {
			sf.result.skipped++
			sf.askKeyframe()
			continue
		}
		if sf.w == nil && sf.cfg.video.needsConfig() && sf.codecPrivate == nil {
			cfg, ok := sf.cfg.video.config(f.data)
			if !ok {
				sf.result.skipped++
				sf.askKeyframe()
				continue
			}
			sf.codecPrivate = cfg.codecPrivate
			if cfg.width > 0 && cfg.height > 0 {
				sf.cfg.width, sf.cfg.height = cfg.width, cfg.height
			}
		}
		sf.waitKey = false
		ms, ok := sf.vclock.place(f.ts, f.ssrc, f.at)
		if !ok {
			continue
		}
		sf.write(videoTrackNumber, ms, f.keyframe, f.data)
	}
}

// audioFrame writes one Opus packet, or keeps it (returning true) while
// the file waits for its first video keyframe.
func (sf *streamFile) audioFrame(p *packet) (kept bool) {
	if !sf.cfg.audio || len(p.payload) == 0 {
		return false
	}
	if sf.w == nil && sf.cfg.video.needsConfig() && sf.codecPrivate == nil {
		if len(sf.pending) == maxPendingAudio {
			releasePacket(sf.pending[0])
			sf.pending = append(sf.pending[:0], sf.pending[1:]...)
		}
		sf.pending = append(sf.pending, p)
		return true
	}
	sf.writeAudio(p)
	return false
}

func (sf *streamFile) writeAudio(p *packet) {
	ms, ok := sf.aclock.place(p.ts, p.ssrc, p.at)
	if !ok {
		return
	}
	sf.write(sf.audioTrack, ms, true, p.payload)
}

// write appends a block, opening the file on the first one.
func (sf *streamFile) write(track uint64, ms int64, keyframe bool, data []byte) {
	if sf.w == nil {
		if err := sf.open(); err != nil {
			sf.result.err = err
			return
		}
		if track == 0 {
			track = sf.audioTrack // the track number was not known before opening
		}
	}
	if err := sf.w.writeBlock(track, ms, keyframe, data); err != nil {
		sf.result.err = fmt.Errorf("write %s: %w", sf.cfg.name, err)
		return
	}
	sf.written++
}

// open creates the file with its tracks, then writes the audio that
// waited for it.
func (sf *streamFile) open() error {
	var tracks []trackSpec
	docType := "webm"
	video := sf.cfg.video.codecID != "" && (!sf.cfg.video.needsConfig() || sf.codecPrivate != nil)
	if video {
		tracks = append(tracks, trackSpec{number: videoTrackNumber, kind: trackTypeVideo, codecID: sf.cfg.video.codecID,
			codecPrivate: sf.codecPrivate, width: sf.cfg.width, height: sf.cfg.height})
		if !sf.cfg.video.webm {
			docType = "matroska"
		}
	} else {
		sf.asm = nil // opened without video (see finish): none is written
	}
	if sf.cfg.audio {
		sf.audioTrack = uint64(len(tracks) + 1)
		tracks = append(tracks, trackSpec{number: sf.audioTrack, kind: trackTypeAudio, codecID: "A_OPUS",
			codecPrivate: opusHead(), sampleRate: 48000, channels: 2, preRoll: 80_000_000})
	}
	f, err := sf.cfg.root.OpenFile(sf.cfg.name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	w, err := newMatroskaWriter(f, docType, tracks, time.Now())
	if err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", sf.cfg.name, err)
	}
	sf.file, sf.w = f, w
	sf.result.opened, sf.result.video = true, video
	pending := sf.pending
	sf.pending = nil
	for _, p := range pending {
		sf.writeAudio(p)
		releasePacket(p)
	}
	return nil
}

// finish writes what can still be, then finishes and closes the file.
func (sf *streamFile) finish() {
	if sf.w == nil && len(sf.pending) > 0 && sf.result.err == nil {
		// The video never brought what its track needs (an H.264 or
		// AV1 keyframe with its configuration): keep the audio rather
		// than nothing.
		sf.cfg.video = mediaCodec{}
		if err := sf.open(); err != nil {
			sf.result.err = err
		}
	}
	for _, p := range sf.pending {
		releasePacket(p)
	}
	sf.pending = nil
	sf.result.dropped = sf.dropped.Load()
	if sf.file == nil {
		return
	}
	info, err := finishMatroska(sf.file)
	sf.result.err = errors.Join(sf.result.err, err, sf.file.Close())
	sf.result.info = info
	if sf.result.err != nil {
		sf.cfg.log.Warn("archive: recording a stream", "file", sf.cfg.name, "err", sf.result.err)
	}
}
