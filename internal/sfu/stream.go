package sfu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Stream is one published stream: the publisher's peer connection and a
// receiver per track (at most one audio and one video, as in OpenTok).
type Stream struct {
	ID  string
	sfu *SFU
	pc  *webrtc.PeerConnection

	mu          sync.Mutex
	receivers   map[webrtc.RTPCodecType]*Receiver
	subscribers map[*Subscriber]struct{}
	onClose     func(reason string)
	closed      bool
	done        chan struct{}
	loops       sync.WaitGroup
}

// PublishOptions are what Publish needs besides the offer.
type PublishOptions struct {
	// OnClose, if set, is called once when the stream ends on its own
	// (see Publish).
	OnClose func(reason string)
	// Loopback says the publisher is on this machine (its signaling came
	// over loopback): the answer then offers loopback candidates too.
	Loopback bool
}

// Publish accepts a publisher's SDP offer for stream id and returns the
// answer (with every candidate: gathering on the shared sockets is
// immediate, so the client need not wait for trickled ones). OnClose, if
// set, is called once when the stream ends on its own, with a reason
// ("networkDisconnected" when ICE fails); not when Close is called.
func (s *SFU) Publish(ctx context.Context, id, offer string, o PublishOptions) (*Stream, string, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, "", ErrClosed
	}
	if _, dup := s.streams[id]; dup {
		s.mu.Unlock()
		return nil, "", fmt.Errorf("sfu: stream %s already published", id)
	}
	s.mu.Unlock()

	pc, err := s.newPeerConnection(s.api[placeOf(o.Loopback)])
	if err != nil {
		return nil, "", err
	}
	st := &Stream{ID: id, sfu: s, pc: pc, receivers: map[webrtc.RTPCodecType]*Receiver{},
		subscribers: map[*Subscriber]struct{}{}, onClose: o.OnClose, done: make(chan struct{})}

	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		st.mu.Lock()
		r := st.receivers[track.Kind()]
		closed := st.closed
		layer := -1
		if r != nil {
			layer = r.layerOf(track.RID())
		}
		if layer >= 0 && !closed {
			st.loops.Add(1)
		}
		st.mu.Unlock()
		if layer < 0 || closed {
			return
		}
		go func() {
			defer st.loops.Done()
			r.readLoop(track, layer)
		}()
	})
	pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
		s.log.Debug("sfu: publisher peer connection", "stream", id, "state", state.String())
		switch state {
		case webrtc.PeerConnectionStateConnected:
			s.releaseTCP(pc)
		case webrtc.PeerConnectionStateFailed:
			st.end("networkDisconnected")
		}
	})

	answer, err := negotiateAnswer(ctx, pc, offer, pinCodecs)
	if err != nil {
		pc.Close()
		return nil, "", err
	}
	receivers := map[webrtc.RTPCodecType]*Receiver{}
	for _, t := range pc.GetTransceivers() {
		if t.Direction() != webrtc.RTPTransceiverDirectionRecvonly || t.Receiver() == nil {
			continue
		}
		params := t.Receiver().GetParameters()
		if len(params.Codecs) == 0 {
			continue
		}
		if _, dup := receivers[t.Kind()]; dup {
			continue // a stream carries one track per kind; extra ones are ignored
		}
		var rids []string
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			rids = simulcastRIDs(offer, t.Mid())
		}
		r := newReceiver(t.Kind(), params.Codecs[0], pc, rids...)
		r.batch = s.batch
		receivers[t.Kind()] = r
	}
	if len(receivers) == 0 {
		pc.Close()
		return nil, "", errors.New("sfu: the offer sends no audio or video this server can receive")
	}
	// OnTrack reads the receivers from Pion's goroutines.
	st.mu.Lock()
	st.receivers = receivers
	st.mu.Unlock()

	s.mu.Lock()
	if _, dup := s.streams[id]; dup || s.closed {
		s.mu.Unlock()
		pc.Close()
		return nil, "", fmt.Errorf("sfu: stream %s already published", id)
	}
	s.streams[id] = st
	s.mu.Unlock()
	return st, answer, nil
}

// negotiateAnswer applies a remote offer and returns the local answer
// with its candidates; before answering it runs prepare, if any.
func negotiateAnswer(ctx context.Context, pc *webrtc.PeerConnection, offer string, prepare func(*webrtc.PeerConnection) error) (string, error) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("sfu: bad offer: %w", err)
	}
	if prepare != nil {
		if err := prepare(pc); err != nil {
			return "", err
		}
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("sfu: answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("sfu: answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

// pinCodecs makes the answer accept exactly one codec per track: the
// publisher's first choice among those Parley forwards. A sender may use
// any codec the answer lists, so with several listed the SFU could not
// know, before the first packet, what its subscribers will receive; with
// one, the stream's codec is settled when it is announced.
func pinCodecs(pc *webrtc.PeerConnection) error {
	for _, t := range pc.GetTransceivers() {
		if t.Receiver() == nil {
			continue
		}
		codecs := t.Receiver().GetParameters().Codecs
		if len(codecs) == 0 {
			continue
		}
		if err := t.SetCodecPreferences(codecs[:1]); err != nil {
			return fmt.Errorf("sfu: codec %s: %w", codecs[0].MimeType, err)
		}
	}
	return nil
}

// Receiver returns the stream's track of that kind, or nil.
func (st *Stream) Receiver(kind webrtc.RTPCodecType) *Receiver {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.receivers[kind]
}

// VideoLayers is how many simulcast layers the stream's video has: 1
// without simulcast or without video.
func (st *Stream) VideoLayers() int {
	if r := st.Receiver(webrtc.RTPCodecTypeVideo); r != nil {
		return r.Layers()
	}
	return 1
}

// Done is closed when the stream has ended.
func (st *Stream) Done() <-chan struct{} { return st.done }

// AddICECandidate adds a candidate trickled by the publisher.
func (st *Stream) AddICECandidate(c webrtc.ICECandidateInit) error {
	return st.pc.AddICECandidate(c)
}

// RestartICE applies a publisher's ICE-restart offer and returns the
// answer.
func (st *Stream) RestartICE(ctx context.Context, offer string) (string, error) {
	return negotiateAnswer(ctx, st.pc, offer, nil)
}

// Close ends the stream and every subscription to it.
func (st *Stream) Close() { st.close("", false) }

func (st *Stream) end(reason string) { st.close(reason, true) }

func (st *Stream) close(reason string, notify bool) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.closed = true
	subs := make([]*Subscriber, 0, len(st.subscribers))
	for sub := range st.subscribers {
		subs = append(subs, sub)
	}
	st.mu.Unlock()

	st.sfu.mu.Lock()
	if st.sfu.streams[st.ID] == st {
		delete(st.sfu.streams, st.ID)
	}
	st.sfu.mu.Unlock()

	for _, sub := range subs {
		sub.end("streamDestroyed")
	}
	// Closing the peer connection ends the read loops; closing it from one
	// of Pion's callbacks must not wait for them, so do it aside.
	st.sfu.closing.Go(func() {
		st.pc.Close()
		st.loops.Wait()
		close(st.done)
	})
	if notify && st.onClose != nil {
		st.onClose(reason)
	}
}

// simulcastRIDs returns the RIDs of the simulcast layers a transceiver
// receives, lowest quality first, or none without simulcast. The offer
// lists them (a=rid) in the publisher's order, which by convention goes
// from the lowest layer up; the usual names are put in their order
// whatever the listing: q, h, f (quarter, half, full) and numbers.
//
// The offer is the publisher's text (parsed here: the peer connection's
// own parsed copy belongs to its goroutines); mid picks its media section.
func simulcastRIDs(offer, mid string) []string {
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(offer); err != nil {
		return nil
	}
	for _, m := range parsed.MediaDescriptions {
		if v, _ := m.Attribute("mid"); v != mid {
			continue
		}
		var rids []string
		for _, a := range m.Attributes {
			if a.Key != "rid" {
				continue
			}
			id, dir, _ := strings.Cut(a.Value, " ")
			if strings.HasPrefix(dir, "send") && id != "" && !slices.Contains(rids, id) {
				rids = append(rids, id)
			}
		}
		if len(rids) < 2 {
			return rids
		}
		rank := func(id string) int {
			if i := strings.Index("qhf", id); len(id) == 1 && i >= 0 {
				return i
			}
			if n, err := strconv.Atoi(id); err == nil && n >= 0 {
				return n
			}
			return -1
		}
		for _, id := range rids {
			if rank(id) < 0 {
				return rids // unknown names: the publisher's order
			}
		}
		slices.SortStableFunc(rids, func(a, b string) int { return rank(a) - rank(b) })
		return rids
	}
	return nil
}
