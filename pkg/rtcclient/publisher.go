package rtcclient

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/parleyhq/parley/internal/signaling"
)

// PublishOptions describe a stream to publish. With no file given, the
// sources are synthetic: VP8-shaped video packets and Opus-shaped audio
// packets that carry their send time, so subscribers can measure delay
// and loss exactly (they are not decodable pictures or sound).
type PublishOptions struct {
	Name      string
	Audio     bool
	Video     bool
	VideoType string // camera (default), screen, custom
	Width     int    // announced dimensions (default 640x480)
	Height    int

	// Synthetic video: frames per second (default 30), bits per second
	// (default 500 000), keyframe interval (default 2 s; a PLI forces one).
	FPS         int
	Bitrate     int
	GOP         time.Duration
	PacketBytes int // payload bytes per video packet (default 1100)

	// VideoFile and AudioFile replace the synthetic sources; both loop.
	// VideoFile is IVF (VP8, VP9 or AV1), played at the rate of its time
	// base, or, named *.h264 or *.264, H.264 Annex-B, played at FPS.
	// AudioFile is Ogg Opus with one packet per page (ffmpeg's
	// -page_duration 20000), sent a page every 20 ms. Keyframe requests do
	// not reach a file: its own keyframes are all a subscriber gets.
	VideoFile string
	AudioFile string

	// SimulcastFiles publishes the video as simulcast layers instead of
	// one encoding: one file per layer (all of one codec), lowest quality
	// first, each played and looped like VideoFile. The layers' RIDs are
	// q, h and f for three, 0, 1, … otherwise. Width and Height announce
	// the best layer.
	SimulcastFiles []string

	// The offer lists the video file's codec first, as a browser's does
	// after setCodecPreferences. DefaultCodecOrder leaves the client's
	// usual order (VP8 first) instead, as Pion and other non-browser
	// senders offer by default: only the file's codec is sent all the
	// same, so a server must go by the packets' payload type.
	DefaultCodecOrder bool

	// KeyframeOnRequest makes a video file answer keyframe requests as an
	// encoder would: the player skips ahead to the file's next keyframe
	// and sends it at once. The picture jumps; the stream stays
	// decodable, and a new subscriber waits a round trip instead of up
	// to a whole keyframe interval.
	KeyframeOnRequest bool

	// PaceBitrate spaces out the video's packets at this many bits per
	// second, as a browser's pacer does (it paces at 2.5 times the
	// encoder's target); 0 sends each frame's packets at once. Video
	// files only: synthetic packets leave as they are made.
	PaceBitrate int

	// LogSends keeps a SendLog of the stream's packets (Publisher.Sent),
	// so that subscribers in this process measure the one-way delay of
	// file media, whose payloads carry no send time.
	LogSends bool
}

// Publisher is one published stream.
type Publisher struct {
	StreamID string
	pc       *webrtc.PeerConnection
	client   *Client

	forceKey atomic.Bool
	stop     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup

	// VideoPackets and AudioPackets count what the sources wrote: RTP
	// packets when synthetic, frames and pages when played from files.
	VideoPackets, AudioPackets atomic.Uint64
	KeyframeRequests           atomic.Uint64
	// SentPackets and SentBytes count the RTP packets of every track as
	// they leave, header and payload, retransmissions aside.
	SentPackets, SentBytes atomic.Uint64
	// Sent is the stream's send log, with PublishOptions.LogSends.
	Sent  *SendLog
	ssrcs []uint32
	// VideoStart is when a video file began to play: its frame at time
	// t of the file is sent at VideoStart + t (on the first pass; the
	// file loops).
	VideoStart time.Time
}

// magic marks synthetic payloads; after it come the send time (unix
// nanoseconds) and a counter.
var magic = [4]byte{'P', 'R', 'L', 'Y'}

const synthHeader = 4 + 8 + 4

// Publish publishes a stream and starts its sources.
func (c *Client) Publish(ctx context.Context, o PublishOptions) (*Publisher, error) {
	if !o.Audio && !o.Video {
		return nil, errors.New("rtcclient: publish needs audio or video")
	}
	if o.Width == 0 {
		o.Width, o.Height = 640, 480
	}
	if o.FPS == 0 {
		o.FPS = 30
	}
	if o.Bitrate == 0 {
		o.Bitrate = 500_000
	}
	if o.GOP == 0 {
		o.GOP = 2 * time.Second
	}
	if o.PacketBytes == 0 {
		o.PacketBytes = 1100
	}
	if len(o.SimulcastFiles) > 0 {
		return c.publishSimulcast(ctx, o)
	}
	pc, err := c.api.NewPeerConnection(c.peerConfig())
	if err != nil {
		return nil, err
	}
	p := &Publisher{pc: pc, client: c, stop: make(chan struct{})}
	if o.LogSends {
		p.Sent = NewSendLog()
	}

	var videoTrack, audioTrack webrtc.TrackLocal
	var video videoFile
	defer func() {
		// Until its player owns it, the file is ours to close.
		if video != nil {
			video.Close()
		}
	}()
	if o.Video {
		if o.VideoFile != "" {
			if video, err = openVideoFile(o.VideoFile, o.FPS); err != nil {
				pc.Close()
				return nil, err
			}
			videoTrack, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: video.mimeType(), ClockRate: 90000}, "video", "parley")
		} else {
			videoTrack, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "parley")
		}
		if err != nil {
			pc.Close()
			return nil, err
		}
	}
	if o.Audio {
		if audioTrack, err = newAudioTrack(o); err != nil {
			pc.Close()
			return nil, err
		}
	}
	for _, t := range []webrtc.TrackLocal{audioTrack, videoTrack} {
		if t == nil {
			continue
		}
		pace := 0
		if t == videoTrack && video != nil {
			// Synthetic packets carry the time they were made: held back
			// by a pacer, they would count its wait as delay.
			pace = o.PaceBitrate
		}
		sender, err := p.addTrack(t, pace)
		if err != nil {
			p.close()
			return nil, err
		}
		if t == videoTrack && video != nil && !o.DefaultCodecOrder {
			if err := preferCodec(pc, sender, video.mimeType()); err != nil {
				p.close()
				return nil, err
			}
		}
	}

	if err := p.negotiate(ctx, o); err != nil {
		return nil, err
	}

	if s, ok := videoTrack.(*webrtc.TrackLocalStaticRTP); ok {
		p.wg.Add(1)
		go p.synthVideo(s, o)
	}

	if s, ok := videoTrack.(*webrtc.TrackLocalStaticSample); ok {
		p.wg.Add(1)
		p.VideoStart = time.Now()
		go p.playVideo(s, video, p.VideoStart, o.KeyframeOnRequest, &p.forceKey)
		video = nil
	}
	p.startAudio(audioTrack, o)
	return p, nil
}

// newAudioTrack makes the audio track of o: an Ogg file's, or synthetic.
func newAudioTrack(o PublishOptions) (webrtc.TrackLocal, error) {
	cp := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	if o.AudioFile != "" {
		return webrtc.NewTrackLocalStaticSample(cp, "audio", "parley")
	}
	return webrtc.NewTrackLocalStaticRTP(cp, "audio", "parley")
}

// startAudio starts the source of the audio track, if any.
func (p *Publisher) startAudio(t webrtc.TrackLocal, o PublishOptions) {
	switch t := t.(type) {
	case *webrtc.TrackLocalStaticRTP:
		p.wg.Add(1)
		go p.synthAudio(t)
	case *webrtc.TrackLocalStaticSample:
		p.wg.Add(1)
		go p.playOgg(t, o.AudioFile)
	}
}

// addTrack sends t (one encoding) on the publisher's peer connection,
// paced at pace bits/s (0: not): its packets are counted and its
// keyframe requests read.
func (p *Publisher) addTrack(t webrtc.TrackLocal, pace int) (*webrtc.RTPSender, error) {
	sender, err := p.pc.AddTrack(t)
	if err != nil {
		return nil, err
	}
	if enc := sender.GetParameters().Encodings; len(enc) > 0 {
		p.countSends(uint32(enc[0].SSRC), "", nil, pace)
	}
	p.wg.Add(1)
	go p.readRTCP(sender, "", &p.forceKey)
	return sender, nil
}

// countSends counts the packets leaving with that SSRC as the
// publisher's (and logs them in its send log), paced at pace bits/s (0:
// not). A simulcast layer's packets also get its RID and the media id mid
// returns.
func (p *Publisher) countSends(ssrc uint32, rid string, mid func() string, pace int) {
	p.client.mu.Lock()
	p.client.sinks[ssrc] = sendSink{packets: &p.SentPackets, bytes: &p.SentBytes, log: p.Sent, rid: rid, mid: mid, pace: pace}
	p.client.mu.Unlock()
	p.ssrcs = append(p.ssrcs, ssrc)
}

// negotiate offers the publisher's peer connection to the SFU and applies
// its answer; on failure the publisher is closed.
func (p *Publisher) negotiate(ctx context.Context, o PublishOptions) error {
	c, pc := p.client, p.pc
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		p.close()
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		p.close()
		return err
	}
	<-gathered
	vt := o.VideoType
	if vt == "" {
		vt = "camera"
	}
	spec := &signaling.StreamSpec{Name: o.Name, HasAudio: o.Audio, HasVideo: o.Video, VideoType: vt, FrameRate: o.FPS}
	if o.Video {
		spec.VideoDimensions = &signaling.Dimensions{Width: o.Width, Height: o.Height}
	}
	m, err := c.request(ctx, signaling.Request{Type: "publish", Stream: spec, Offer: pc.LocalDescription().SDP})
	if err != nil {
		p.close()
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.Answer}); err != nil {
		// The others have been told of the stream already (an answer
		// without the track's codec, say): withdraw it rather than leave
		// them a stream that never plays.
		_, _ = c.request(ctx, signaling.Request{Type: "unpublish", StreamID: m.StreamID})
		p.close()
		return err
	}
	p.StreamID = m.StreamID
	c.mu.Lock()
	c.pubs[p.StreamID] = p
	c.mu.Unlock()

	return nil
}

// preferCodec moves mime to the front of the codecs sender's transceiver
// offers, as a browser does after setCodecPreferences: an answerer takes
// the first codec of a media section for the one that will be sent.
func preferCodec(pc *webrtc.PeerConnection, sender *webrtc.RTPSender, mime string) error {
	var first, rest []webrtc.RTPCodecParameters
	for _, c := range sender.GetParameters().Codecs {
		if strings.EqualFold(c.MimeType, mime) {
			first = append(first, c)
		} else {
			rest = append(rest, c)
		}
	}
	for _, tr := range pc.GetTransceivers() {
		if tr.Sender() == sender {
			return tr.SetCodecPreferences(append(first, rest...))
		}
	}
	return errors.New("rtcclient: the video sender has no transceiver")
}

// Unpublish stops the stream (reason clientDisconnected for the others).
func (p *Publisher) Unpublish(ctx context.Context) error {
	_, err := p.client.request(ctx, signaling.Request{Type: "unpublish", StreamID: p.StreamID})
	p.client.mu.Lock()
	delete(p.client.pubs, p.StreamID)
	p.client.mu.Unlock()
	p.close()
	return err
}

// SetVideo announces publishVideo(on): the stream's hasVideo changes for
// everyone, and synthetic video stops or resumes.
func (p *Publisher) SetVideo(ctx context.Context, on bool) error {
	v, _ := json.Marshal(on)
	_, err := p.client.request(ctx, signaling.Request{Type: "updateStream", StreamID: p.StreamID, Property: "hasVideo", Value: v})
	return err
}

// PeerConnection exposes the publisher's connection (for stats).
func (p *Publisher) PeerConnection() *webrtc.PeerConnection { return p.pc }

func (p *Publisher) close() {
	p.once.Do(func() {
		close(p.stop)
		p.pc.Close()
		p.client.mu.Lock()
		for _, ssrc := range p.ssrcs {
			delete(p.client.sinks, ssrc)
		}
		p.client.mu.Unlock()
	})
	p.wg.Wait()
}

// readRTCP reads the feedback of one encoding of a sender (rid "" for a
// sender of one encoding): a keyframe request sets forceKey.
func (p *Publisher) readRTCP(sender *webrtc.RTPSender, rid string, forceKey *atomic.Bool) {
	defer p.wg.Done()
	for {
		var (
			pkts []rtcp.Packet
			err  error
		)
		if rid == "" {
			pkts, _, err = sender.ReadRTCP()
		} else {
			pkts, _, err = sender.ReadSimulcastRTCP(rid)
		}
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.KeyframeRequests.Add(1)
				forceKey.Store(true)
			}
		}
	}
}

// synthVideo sends VP8-shaped frames: a payload descriptor marking the
// frame start and, in its first byte, keyframe or not, then the send
// time.
func (p *Publisher) synthVideo(t *webrtc.TrackLocalStaticRTP, o PublishOptions) {
	defer p.wg.Done()
	frameBytes := max(o.Bitrate/8/o.FPS, synthHeader+2)
	interval := time.Second / time.Duration(o.FPS)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	seq := uint16(rand.Uint32())
	ts := rand.Uint32()
	buf := make([]byte, o.PacketBytes+1)
	lastKey := time.Time{}
	var frame uint32
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		key := p.forceKey.Swap(false) || now.Sub(lastKey) >= o.GOP
		if key {
			lastKey = now
			frameBytes := frameBytes * 4 // keyframes are bigger, as real ones are
			p.sendFrame(t, buf, &seq, ts, frameBytes, true, frame, o.PacketBytes)
		} else {
			p.sendFrame(t, buf, &seq, ts, frameBytes, false, frame, o.PacketBytes)
		}
		frame++
		ts += 90000 / uint32(o.FPS)
	}
}

func (p *Publisher) sendFrame(t *webrtc.TrackLocalStaticRTP, buf []byte, seq *uint16, ts uint32, size int, key bool, frame uint32, per int) {
	sent := 0
	first := true
	for sent < size {
		n := min(per, size-sent)
		pl := buf[:n+1]
		clear(pl)
		if first {
			pl[0] = 0x10 // S=1, partition 0: a frame starts here
			if !key {
				pl[1] = 0x01 // VP8 payload header: P=1, an inter frame
			}
		}
		if n >= synthHeader+1 {
			copy(pl[2:], magic[:])
			binary.BigEndian.PutUint64(pl[6:], uint64(time.Now().UnixNano()))
			binary.BigEndian.PutUint32(pl[14:], frame)
		}
		sent += n
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: *seq, Timestamp: ts, Marker: sent >= size}, Payload: pl}
		*seq++
		first = false
		if t.WriteRTP(&pkt) == nil {
			p.VideoPackets.Add(1)
		}
	}
}

// synthAudio sends a 20 ms Opus-shaped packet every 20 ms.
func (p *Publisher) synthAudio(t *webrtc.TrackLocalStaticRTP) {
	defer p.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	seq := uint16(rand.Uint32())
	ts := rand.Uint32()
	var n uint32
	pl := make([]byte, 80)
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		clear(pl)
		pl[0] = 0xF8 // TOC: CELT fullband 20 ms, mono, one frame
		copy(pl[1:], magic[:])
		binary.BigEndian.PutUint64(pl[5:], uint64(time.Now().UnixNano()))
		binary.BigEndian.PutUint32(pl[13:], n)
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts}, Payload: pl}
		if t.WriteRTP(&pkt) == nil {
			p.AudioPackets.Add(1)
		}
		seq++
		ts += 960
		n++
	}
}

// playVideo loops a video file at its own frame rate. The schedule is
// kept against the clock rather than by sleeping a frame's duration after
// each write, so the stream does not drift slower than the file; after a
// long stall (a loaded machine) it starts afresh instead of bursting to
// catch up.
func (p *Publisher) playVideo(t *webrtc.TrackLocalStaticSample, v videoFile, start time.Time, keyOnRequest bool, forceKey *atomic.Bool) {
	defer p.wg.Done()
	defer v.Close()
	timer := time.NewTimer(0)
	defer timer.Stop()
	due := start
	for {
		select {
		case <-p.stop:
			return
		case <-timer.C:
		}
		frame, d, key, err := v.next()
		if keyOnRequest && forceKey.Swap(false) {
			// Bounded: a file whose only keyframe is its first frame
			// gets there after one pass.
			for i := 0; err == nil && !key && i < maxKeyframeSkip; i++ {
				frame, d, key, err = v.next()
			}
		}
		if err != nil {
			return
		}
		if t.WriteSample(media.Sample{Data: frame, Duration: d}) == nil {
			p.VideoPackets.Add(1)
		}
		due = due.Add(d)
		if time.Since(due) > time.Second {
			due = time.Now()
		}
		timer.Reset(time.Until(due))
	}
}

// playOgg loops an Ogg Opus file, one page per 20 ms.
func (p *Publisher) playOgg(t *webrtc.TrackLocalStaticSample, path string) {
	defer p.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		f, err := os.Open(path)
		if err != nil {
			return
		}
		r, _, err := oggreader.NewWith(f)
		if err != nil {
			f.Close()
			return
		}
		var last uint64
		for {
			select {
			case <-p.stop:
				f.Close()
				return
			case <-tick.C:
			}
			page, hdr, err := r.ParseNextPage()
			if err != nil {
				break
			}
			if typ, ok := hdr.HeaderType(page); ok && typ == oggreader.HeaderOpusTags {
				continue // metadata, not sound: no subscriber could decode it
			}
			d := time.Duration(hdr.GranulePosition-last) * time.Millisecond / 48
			last = hdr.GranulePosition
			if t.WriteSample(media.Sample{Data: page, Duration: d}) == nil {
				p.AudioPackets.Add(1)
			}
		}
		f.Close()
	}
}
