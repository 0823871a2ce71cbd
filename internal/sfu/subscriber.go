package sfu

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"
)

// Subscriber sends one stream to one client over its own peer
// connection. The SFU makes the offer, so it decides which tracks go.
type Subscriber struct {
	ID     string
	stream *Stream
	pc     *webrtc.PeerConnection
	downs  []*DownTrack

	mu      sync.Mutex
	closed  bool
	onClose func(reason string)
	done    chan struct{}
	loops   sync.WaitGroup
}

// SubscribeOptions choose what a subscription receives.
type SubscribeOptions struct {
	Audio, Video bool
	// OnClose, if set, is called once when the subscription ends on its
	// own: "streamDestroyed" when the stream went away,
	// "networkDisconnected" when ICE failed.
	OnClose func(reason string)
	// VideoLayer is the simulcast layer to start on (0 the lowest; beyond
	// the best, the best).
	VideoLayer int
	// Loopback says the subscriber is on this machine: the offer then
	// has loopback candidates too.
	Loopback bool
}

// Subscribe starts sending stream streamID to a client and returns the
// SDP offer for it; the client's answer goes to SetAnswer.
func (s *SFU) Subscribe(ctx context.Context, id, streamID string, o SubscribeOptions) (*Subscriber, string, error) {
	st, ok := s.Stream(streamID)
	if !ok {
		return nil, "", fmt.Errorf("sfu: stream %s not found", streamID)
	}
	pc, err := s.newPeerConnection(s.subAPI[placeOf(o.Loopback)])
	if err != nil {
		return nil, "", err
	}
	sub := &Subscriber{ID: id, stream: st, pc: pc, onClose: o.OnClose, done: make(chan struct{})}
	fail := func(err error) (*Subscriber, string, error) {
		sub.close("", false)
		return nil, "", err
	}
	// Both kinds get a transceiver even when muted, so that turning audio
	// or video on later needs no renegotiation.
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		r := st.Receiver(kind)
		if r == nil {
			continue
		}
		d := newDownTrack(r, streamID)
		d.want.Store(int32(min(max(o.VideoLayer, 0), r.top())))
		d.SetPaused(kind == webrtc.RTPCodecTypeAudio && !o.Audio || kind == webrtc.RTPCodecTypeVideo && !o.Video)
		t, err := pc.AddTransceiverFromTrack(d, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return fail(err)
		}
		sub.downs = append(sub.downs, d)
		sub.loops.Add(1)
		go func() {
			defer sub.loops.Done()
			d.rtcpLoop(t.Sender())
		}()
	}
	pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
		s.log.Debug("sfu: subscriber peer connection", "subscriber", id, "stream", streamID, "state", state.String())
		switch state {
		case webrtc.PeerConnectionStateConnected:
			for _, d := range sub.downs {
				d.setLive(true)
			}
			s.releaseTCP(pc)
		case webrtc.PeerConnectionStateDisconnected:
			for _, d := range sub.downs {
				d.setLive(false)
			}
		case webrtc.PeerConnectionStateFailed:
			sub.end("networkDisconnected")
		}
	})

	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return fail(fmt.Errorf("sfu: stream %s not found", streamID))
	}
	st.subscribers[sub] = struct{}{}
	st.mu.Unlock()
	for _, d := range sub.downs {
		d.recv.addDown(d)
	}

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	return sub, pc.LocalDescription().SDP, nil
}

// SetAnswer applies the client's answer to the offer.
func (sub *Subscriber) SetAnswer(sdp string) error {
	if err := sub.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("sfu: bad answer: %w", err)
	}
	for _, d := range sub.downs {
		d.mu.Lock()
		bound := d.writer != nil
		d.mu.Unlock()
		if !bound {
			return ErrCodecNotSupported
		}
	}
	return nil
}

// RestartICE makes an ICE-restart offer for the subscription.
func (sub *Subscriber) RestartICE(ctx context.Context) (string, error) {
	offer, err := sub.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(sub.pc)
	if err := sub.pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return sub.pc.LocalDescription().SDP, nil
}

// AddICECandidate adds a candidate trickled by the client.
func (sub *Subscriber) AddICECandidate(c webrtc.ICECandidateInit) error {
	return sub.pc.AddICECandidate(c)
}

// SetMedia turns forwarding of audio and video on or off
// (subscribeToAudio / subscribeToVideo).
func (sub *Subscriber) SetMedia(audio, video bool) {
	for _, d := range sub.downs {
		d.SetPaused(d.Kind() == webrtc.RTPCodecTypeAudio && !audio || d.Kind() == webrtc.RTPCodecTypeVideo && !video)
	}
}

// SetVideoLayer sets the simulcast layer the subscriber prefers (see
// DownTrack.SetLayer).
func (sub *Subscriber) SetVideoLayer(layer int) {
	for _, d := range sub.downs {
		d.SetLayer(layer) // audio has one layer: nothing changes
	}
}

// VideoLayers is how many simulcast layers the subscribed stream's video
// has (1 without simulcast or video).
func (sub *Subscriber) VideoLayers() int { return sub.stream.VideoLayers() }

// StreamID is the id of the subscribed stream.
func (sub *Subscriber) StreamID() string { return sub.stream.ID }

// DownTracks returns the subscription's tracks.
func (sub *Subscriber) DownTracks() []*DownTrack { return sub.downs }

// Done is closed when the subscription has ended.
func (sub *Subscriber) Done() <-chan struct{} { return sub.done }

// ErrNotFound is returned for an unknown stream or subscription.
var ErrNotFound = errors.New("sfu: not found")

// Close ends the subscription.
func (sub *Subscriber) Close() { sub.close("", false) }

func (sub *Subscriber) end(reason string) { sub.close(reason, true) }

func (sub *Subscriber) close(reason string, notify bool) {
	sub.mu.Lock()
	if sub.closed {
		sub.mu.Unlock()
		return
	}
	sub.closed = true
	sub.mu.Unlock()
	sub.stream.mu.Lock()
	delete(sub.stream.subscribers, sub)
	sub.stream.mu.Unlock()
	for _, d := range sub.downs {
		d.recv.removeDown(d)
	}
	sub.stream.sfu.closing.Go(func() {
		sub.pc.Close()
		sub.loops.Wait()
		close(sub.done)
	})
	if notify && sub.onClose != nil {
		sub.onClose(reason)
	}
}
