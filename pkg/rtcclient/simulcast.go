package rtcclient

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// maxSimulcastLayers bounds PublishOptions.SimulcastFiles.
const maxSimulcastLayers = 4

// simulcastRIDs names n layers, lowest first.
func simulcastRIDs(n int) []string {
	if n == 3 {
		return []string{"q", "h", "f"}
	}
	rids := make([]string, n)
	for i := range rids {
		rids[i] = strconv.Itoa(i)
	}
	return rids
}

// publishSimulcast is Publish for a video sent as simulcast layers, one
// file each (PublishOptions.SimulcastFiles).
func (c *Client) publishSimulcast(ctx context.Context, o PublishOptions) (*Publisher, error) {
	n := len(o.SimulcastFiles)
	if !o.Video || n < 2 || n > maxSimulcastLayers {
		return nil, fmt.Errorf("rtcclient: simulcast needs video and 2 to %d layer files, not %d", maxSimulcastLayers, n)
	}
	pc, err := c.api.NewPeerConnection(c.peerConfig())
	if err != nil {
		return nil, err
	}
	p := &Publisher{pc: pc, client: c, stop: make(chan struct{})}
	if o.LogSends {
		p.Sent = NewSendLog()
	}
	files := make([]videoFile, n)
	defer func() {
		// Until its player owns it, a file is ours to close.
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	rids := simulcastRIDs(n)
	tracks := make([]*webrtc.TrackLocalStaticSample, n)
	for i, path := range o.SimulcastFiles {
		if files[i], err = openVideoFile(path, o.FPS); err != nil {
			p.close()
			return nil, err
		}
		if files[i].mimeType() != files[0].mimeType() {
			p.close()
			return nil, errors.New("rtcclient: simulcast layers must share one codec")
		}
		cp := webrtc.RTPCodecCapability{MimeType: files[i].mimeType(), ClockRate: 90000}
		if tracks[i], err = webrtc.NewTrackLocalStaticSample(cp, "video", "parley", webrtc.WithRTPStreamID(rids[i])); err != nil {
			p.close()
			return nil, err
		}
	}

	var audio webrtc.TrackLocal
	if o.Audio {
		if audio, err = newAudioTrack(o); err != nil {
			p.close()
			return nil, err
		}
		if _, err := p.addTrack(audio, 0); err != nil {
			p.close()
			return nil, err
		}
	}

	sender, err := pc.AddTrack(tracks[0])
	if err != nil {
		p.close()
		return nil, err
	}
	for _, t := range tracks[1:] {
		if err := sender.AddEncoding(t); err != nil {
			p.close()
			return nil, err
		}
	}
	if !o.DefaultCodecOrder {
		if err := preferCodec(pc, sender, files[0].mimeType()); err != nil {
			p.close()
			return nil, err
		}
	}
	// The media id is read when the sender binds its streams, inside
	// Pion's negotiation, which holds the peer connection's lock: look up
	// the transceiver now, and only ask it then.
	var tr *webrtc.RTPTransceiver
	for _, t := range pc.GetTransceivers() {
		if t.Sender() == sender {
			tr = t
		}
	}
	if tr == nil {
		p.close()
		return nil, errors.New("rtcclient: no transceiver for the video sender")
	}
	mid := tr.Mid
	for _, enc := range sender.GetParameters().Encodings {
		p.countSends(uint32(enc.SSRC), enc.RID, mid, o.PaceBitrate)
	}
	// Each layer answers the keyframe requests for it, as an encoder
	// makes a keyframe of the layer asked for.
	keys := make([]*atomic.Bool, n)
	for i, rid := range rids {
		keys[i] = &atomic.Bool{}
		p.wg.Add(1)
		go p.readRTCP(sender, rid, keys[i])
	}

	if err := p.negotiate(ctx, o); err != nil {
		return nil, err
	}
	p.VideoStart = time.Now()
	for i := range tracks {
		p.wg.Add(1)
		go p.playVideo(tracks[i], files[i], p.VideoStart, o.KeyframeOnRequest, keys[i])
		files[i] = nil
	}
	p.startAudio(audio, o)
	return p, nil
}
