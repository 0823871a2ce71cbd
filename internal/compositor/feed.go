package compositor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/sfu"
)

const (
	// feedQueue bounds the packets waiting between a tap and its sender:
	// a burst of a large keyframe fits, a stuck sender costs drops only.
	feedQueue = 1024
	// maxHold bounds the packets a sender keeps from the last keyframe
	// while no decoder listens.
	maxHold = 1024
	// maxRTP is the largest packet forwarded (SFU packets are at most
	// 1500 bytes).
	maxRTP = 1600
	// keyframeRetry is how often a decoder asks for a keyframe until its
	// first picture, and while it is stalled: packets come in but no
	// picture has come out for stallAfter (a VP8 or VP9 decoder that
	// lost a packet waits for a keyframe).
	keyframeRetry = time.Second
	stallAfter    = 500 * time.Millisecond
	// listenWait bounds the wait for a new decoder to bind its port.
	listenWait = 5 * time.Second
	// Restarts after a crash back off from minBackoff to maxBackoff; a
	// decoder that ran stableRun starts the count again.
	minBackoff = 250 * time.Millisecond
	maxBackoff = 8 * time.Second
	stableRun  = 30 * time.Second
)

// packet is one RTP packet on its way to a decoder, with the header
// rewritten to the decoder's payload type and without extensions.
type packet struct {
	buf  [maxRTP]byte
	n    int
	key  bool
	ts   uint32
	body int // offset of the payload
}

func (p *packet) bytes() []byte   { return p.buf[:p.n] }
func (p *packet) payload() []byte { return p.buf[p.body:p.n] }

var packetPool = sync.Pool{New: func() any { return new(packet) }}

// feed decodes one track of an input: a tap copies the track's packets
// into a queue, a sender forwards them over loopback UDP to an ffmpeg
// decoder, and a supervisor runs the decoder — again after a crash, or
// on a keyframe of a new size — and reads its pictures into pic or its
// audio into ring.
type feed struct {
	c     *Compositor
	in    *input
	kind  webrtc.RTPCodecType
	codec sfu.Codec
	fmtp  string
	pt    byte

	pic  *pictureSlot // video
	ring *pcmRing     // audio

	queue  chan *packet
	target chan *net.UDPConn // the supervisor's new decoder port, or nil when it died
	resize chan struct{}     // the sender saw a keyframe of another size
	quit   chan struct{}
	once   sync.Once
	untap  func()

	seqGap atomic.Uint32 // empty packets skipped so far, taken off sequence numbers

	outSize  atomic.Uint64 // w<<32|h of the running decoder's pictures, 0 before
	wantSize atomic.Uint64 // the size a restart on a new keyframe expects
	noResize atomic.Bool   // the size parser disagreed with the decoder: trust the decoder
	shown    atomic.Int64  // pictures of the running decoder

	lastPacket  atomic.Int64 // when the sender last forwarded a packet, Unix ns
	lastPicture atomic.Int64 // when the reader last got a picture, Unix ns

	dropped, restarts atomic.Int64
}

func packSize(w, h int) uint64 { return uint64(w)<<32 | uint64(h) }

// startFeed taps in's track of kind and starts decoding it. A track that
// is missing or cannot be decoded gives an idle feed (a black box, or
// silence) and a log line.
func startFeed(in *input, kind webrtc.RTPCodecType) *feed {
	c := in.c
	f := &feed{c: c, in: in, kind: kind, quit: make(chan struct{})}
	if kind == webrtc.RTPCodecTypeVideo {
		f.pic, f.pt = &pictureSlot{}, videoPT
	} else {
		f.ring, f.pt = &pcmRing{}, audioPT
	}
	params, ok := in.src.Codec(kind)
	if !ok {
		c.log.Info("compositor: stream has no track of this kind", "stream", in.id, "kind", kind.String())
		return f
	}
	f.codec, f.fmtp = sfu.CodecFromMime(params.MimeType), params.SDPFmtpLine
	if rtpmapName(kind, f.codec) == "" {
		c.log.Warn("compositor: codec not supported; the track is left out", "stream", in.id, "kind", kind.String(), "codec", params.MimeType)
		return f
	}
	f.queue = make(chan *packet, feedQueue)
	f.target = make(chan *net.UDPConn)
	f.resize = make(chan struct{}, 1)
	untap, err := in.src.Tap(kind, f.onPacket)
	if err != nil {
		c.log.Warn("compositor: cannot tap the track", "stream", in.id, "kind", kind.String(), "err", err)
		return f
	}
	f.untap = untap
	c.feeds.Add(2)
	go f.send()
	go f.supervise()
	return f
}

// stop untaps the track and tells the goroutines to end; it does not wait.
func (f *feed) stop() {
	f.once.Do(func() {
		if f.untap != nil {
			f.untap()
		}
		close(f.quit)
	})
}

// onPacket is the tap: it copies pkt into the queue, or drops it when the
// queue is full. It runs on the track's read loop and never blocks.
func (f *feed) onPacket(pkt *rtp.Packet, key bool) {
	if len(pkt.Payload) == 0 {
		// Padding-only packets carry nothing to decode; leaving them out
		// without a hole in the sequence keeps the decoder from waiting
		// for them.
		f.seqGap.Add(1)
		return
	}
	n := 12 + len(pkt.Payload)
	if n > maxRTP {
		f.dropped.Add(1)
		return
	}
	p := packetPool.Get().(*packet)
	b := p.buf[:n]
	b[0] = 0x80 // version 2, no padding, extension or CSRC
	b[1] = f.pt
	if pkt.Marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], pkt.SequenceNumber-uint16(f.seqGap.Load()))
	binary.BigEndian.PutUint32(b[4:], pkt.Timestamp)
	binary.BigEndian.PutUint32(b[8:], pkt.SSRC)
	copy(b[12:], pkt.Payload)
	p.n, p.body, p.key, p.ts = n, 12, key, pkt.Timestamp
	select {
	case f.queue <- p:
	default:
		packetPool.Put(p)
		f.dropped.Add(1)
	}
}

// send forwards the queued packets to the current decoder. While none
// listens it keeps the packets from the last keyframe on, so that a new
// decoder starts on a picture without waiting for another keyframe.
func (f *feed) send() {
	defer f.c.feeds.Done()
	var conn *net.UDPConn
	var hold []*packet
	sniff := sizeSniffer{codec: f.codec}
	release := func() {
		for _, p := range hold {
			packetPool.Put(p)
		}
		clear(hold)
		hold = hold[:0]
	}
	defer func() {
		if conn != nil {
			conn.Close()
		}
		release()
	}()
	for {
		select {
		case <-f.quit:
			return
		case c := <-f.target:
			if conn != nil {
				conn.Close()
			}
			conn = c
			if conn != nil {
				for _, p := range hold {
					conn.Write(p.bytes())
				}
				release()
			}
		case p := <-f.queue:
			if p.key && f.kind == webrtc.RTPCodecTypeVideo && f.newSize(&sniff, p) && conn != nil {
				conn.Close()
				conn = nil
			}
			if conn != nil {
				// Errors (the decoder not bound yet, or gone) only lose
				// this packet.
				conn.Write(p.bytes())
				f.lastPacket.Store(time.Now().UnixNano())
				packetPool.Put(p)
				continue
			}
			switch {
			case p.key && f.kind == webrtc.RTPCodecTypeVideo && (len(hold) == 0 || hold[0].ts != p.ts):
				release()
				hold = append(hold, p)
			case len(hold) > 0 && len(hold) < maxHold:
				hold = append(hold, p)
			default:
				packetPool.Put(p)
				f.dropped.Add(1)
			}
		}
	}
}

// newSize reports whether the keyframe starting in p has another size
// than the running decoder's pictures, and then asks the supervisor for a
// new decoder.
func (f *feed) newSize(s *sizeSniffer, p *packet) bool {
	if f.noResize.Load() {
		return false
	}
	w, h, ok := s.keyframeSize(p.payload())
	if !ok {
		return false
	}
	cur := f.outSize.Load()
	if cur == 0 || cur == packSize(w, h) {
		return false
	}
	f.wantSize.Store(packSize(w, h))
	f.outSize.Store(0) // one request per decoder
	select {
	case f.resize <- struct{}{}:
	default:
	}
	f.c.log.Debug("compositor: picture size changes; new decoder", "stream", f.in.id, "width", w, "height", h)
	return true
}

// supervise runs decoders until the feed stops: again at once for a new
// picture size, after a growing pause for a crash.
func (f *feed) supervise() {
	defer f.c.feeds.Done()
	if f.codec == sfu.CodecAV1 && !ffmpegReadsAV1RTP(f.c.ffmpeg, f.c.log, f.quit) {
		select {
		case <-f.quit:
		default:
			f.c.log.Warn("compositor: this ffmpeg has no AV1 RTP depacketizer; the stream's video stays black", "stream", f.in.id)
			f.untap()
		}
		return
	}
	backoff := time.Duration(0)
	for run := 0; ; run++ {
		if run > 0 {
			f.restarts.Add(1)
		}
		started := time.Now()
		planned, err := f.runDecoder()
		select {
		case <-f.quit:
			return
		default:
		}
		if planned {
			continue
		}
		if time.Since(started) > stableRun {
			backoff = 0
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		f.c.log.Warn("compositor: decoder stopped; starting another", "stream", f.in.id, "kind", f.kind.String(),
			"err", err, "after", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-f.quit:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// runDecoder runs one decoder until it exits, the feed stops (planned and
// err nil) or the sender asks for a new size (planned).
func (f *feed) runDecoder() (planned bool, err error) {
	port, err := freePortPair()
	if err != nil {
		return false, err
	}
	tail := newLogTail(f.c.log.With("stream", f.in.id, "kind", f.kind.String()))
	cmd := newCommand(f.c.ffmpeg, decoderArgs(f.kind), tail)
	cmd.Stdin = strings.NewReader(decoderSDP(f.kind, f.codec, f.fmtp, port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return false, err
	}
	f.outSize.Store(0)
	f.shown.Store(0)
	select {
	case <-f.resize: // a request for the decoder being replaced
	default:
	}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("compositor: start decoder: %w", err)
	}
	exited := make(chan struct{})
	var readErr error
	go func() {
		defer close(exited)
		if f.kind == webrtc.RTPCodecTypeVideo {
			readErr = f.readVideo(stdout)
		} else {
			readErr = f.readAudio(stdout)
		}
		// Whatever ended the reading, the process goes too, so that
		// exited means it is over.
		cmd.Process.Kill()
	}()
	if f.pic != nil {
		f.pic.setUp(true, time.Now())
	}
	end := func() error {
		cmd.Process.Kill()
		<-exited
		return cmd.Wait()
	}

	if !f.waitListening(port, exited) {
		select {
		case <-f.quit:
			end()
			return false, nil
		case <-exited:
			err := exitError("decoder", cmd.Wait(), tail)
			f.down()
			return false, errors.Join(err, readErr)
		default:
		}
	}
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: loopback, Port: port})
	if err != nil {
		end()
		f.down()
		return false, err
	}
	select {
	case f.target <- conn:
	case <-f.quit:
		conn.Close()
		end()
		return false, nil
	}

	var tick <-chan time.Time
	lastAsk := time.Now()
	if f.kind == webrtc.RTPCodecTypeVideo {
		f.lastPicture.Store(lastAsk.UnixNano())
		f.in.src.RequestKeyframe()
		t := time.NewTicker(stallAfter / 2)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-f.quit:
			end()
			return false, nil
		case <-f.resize:
			end()
			return true, nil
		case <-exited:
			err := exitError("decoder", cmd.Wait(), tail)
			f.down()
			if err == nil && readErr != nil && !errors.Is(readErr, io.EOF) {
				err = readErr
			}
			if err == nil {
				err = errors.New("compositor: decoder ended its output")
			}
			return false, err
		case now := <-tick:
			if now.Sub(lastAsk) < keyframeRetry || now.Sub(time.Unix(0, f.lastPicture.Load())) < stallAfter {
				continue
			}
			if f.shown.Load() == 0 || now.Sub(time.Unix(0, f.lastPacket.Load())) < stallAfter {
				f.in.src.RequestKeyframe()
				lastAsk = now
			}
		}
	}
}

// down tells the sender that no decoder listens, and takes the picture
// off after its grace.
func (f *feed) down() {
	if f.pic != nil {
		f.pic.setUp(false, time.Now())
	}
	select {
	case f.target <- nil:
	case <-f.quit:
	}
}

// waitListening waits until the decoder has bound port, so that the first
// packets it is sent (a held keyframe) are not lost. It returns false
// when the feed stops or the decoder exits first; where the kernel's
// table cannot be read it waits a moment and returns true.
func (f *feed) waitListening(port int, exited <-chan struct{}) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	deadline := time.Now().Add(listenWait)
	for {
		bound, ok := udpListening(port)
		if bound {
			return true
		}
		if !ok {
			deadline = time.Now().Add(300 * time.Millisecond)
		}
		select {
		case <-f.quit:
			return false
		case <-exited:
			return false
		case now := <-t.C:
			if now.After(deadline) {
				return true
			}
		}
	}
}

// readVideo reads the decoder's pictures into the feed's slot.
func (f *feed) readVideo(r io.Reader) error {
	y, err := newY4MReader(r)
	if err != nil {
		return err
	}
	size := packSize(y.w, y.h)
	if want := f.wantSize.Swap(0); want != 0 && want != size {
		// The parsed size and the decoder's disagree: restarting again
		// would not help, so keep this decoder's size from now on.
		f.noResize.Store(true)
		f.c.log.Info("compositor: keyframe size does not match the decoder's; no more restarts for size",
			"stream", f.in.id, "width", y.w, "height", y.h)
	}
	f.outSize.Store(size)
	for {
		p := f.pic.buffer(y.w, y.h)
		if err := y.next(p); err != nil {
			return err
		}
		f.pic.swap(p)
		f.shown.Add(1)
		f.lastPicture.Store(time.Now().UnixNano())
	}
}

// readAudio reads the decoder's samples into the feed's ring.
func (f *feed) readAudio(r io.Reader) error {
	var buf [pcmReadBytes]byte
	have := 0
	for {
		n, err := r.Read(buf[have:])
		have += n
		whole := have &^ 3 // whole stereo frames
		f.ring.writePCM(buf[:whole])
		have = copy(buf[:], buf[whole:have])
		if err != nil {
			return err
		}
	}
}
