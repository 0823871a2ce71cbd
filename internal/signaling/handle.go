package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/sfu"
)

// negotiateTimeout bounds one SDP exchange inside the SFU.
const negotiateTimeout = 10 * time.Second

// handle serves one request of a connected client. A refused request gets
// an error message; the connection and the session are unharmed.
func (c *conn) handle(ctx context.Context, req *Request) {
	switch req.Type {
	case "connect":
		c.errorMsg(req.ID, CodeInvalidParam, "already connected")
	case "ping":
		c.reply(Message{Type: "reply", ID: req.ID})
	case "publish":
		c.publish(ctx, req)
	case "unpublish":
		reason := req.Reason
		switch reason {
		case "":
			reason = session.ReasonClientDisconnected
		case session.ReasonClientDisconnected, session.ReasonMediaStopped:
		default:
			c.errorMsg(req.ID, 400, "unpublish reason %q: want clientDisconnected or mediaStopped", reason)
			return
		}
		c.result(req, CodeUnableToPub, c.sess.Unpublish(c.me.ID, req.StreamID, reason))
	case "updateStream":
		c.updateStream(req)
	case "subscribe":
		c.subscribe(ctx, req)
	case "answer":
		sub := c.subscriber(req.SubscriberID)
		if sub == nil {
			c.errorMsg(req.ID, 404, "unknown subscriber %q", req.SubscriberID)
			return
		}
		if err := sub.SetAnswer(req.SDP); err != nil {
			code := CodeSubscribe
			if errors.Is(err, sfu.ErrCodecNotSupported) {
				code = 1601 // codecNotSupported
			}
			c.errorMsg(req.ID, code, "%v", err)
			return
		}
		c.reply(Message{Type: "reply", ID: req.ID, SubscriberID: req.SubscriberID})
	case "setMedia":
		sub := c.subscriber(req.SubscriberID)
		if sub == nil {
			c.errorMsg(req.ID, 404, "unknown subscriber %q", req.SubscriberID)
			return
		}
		sub.SetMedia(req.Audio == nil || *req.Audio, req.Video == nil || *req.Video)
		c.reply(Message{Type: "reply", ID: req.ID, SubscriberID: req.SubscriberID})
	case "setPreferredResolution":
		sub := c.subscriber(req.SubscriberID)
		if sub == nil {
			c.errorMsg(req.ID, 404, "unknown subscriber %q", req.SubscriberID)
			return
		}
		if err := validResolution(req.PreferredResolution); err != nil {
			c.errorMsg(req.ID, 400, "%v", err)
			return
		}
		sub.SetVideoLayer(c.layerFor(sub.StreamID(), sub.VideoLayers(), req.PreferredResolution))
		c.reply(Message{Type: "reply", ID: req.ID, SubscriberID: req.SubscriberID})
	case "relay":
		c.forwardRelay(req)
	case "unsubscribe":
		if c.unsubscribeRelayed(req) {
			return
		}
		c.mu.Lock()
		sub := c.subscribers[req.SubscriberID]
		delete(c.subscribers, req.SubscriberID)
		c.mu.Unlock()
		if sub == nil {
			c.errorMsg(req.ID, 404, "unknown subscriber %q", req.SubscriberID)
			return
		}
		sub.Close()
		c.reply(Message{Type: "reply", ID: req.ID, SubscriberID: req.SubscriberID})
	case "restartIce":
		c.restartICE(ctx, req)
	case "candidate":
		c.candidate(req)
	case "signal":
		typ, data := "", ""
		if req.SignalType != nil {
			typ = *req.SignalType
		}
		if req.Data != nil {
			data = *req.Data
		}
		c.result(req, 0, c.sess.Signal(c.me.ID, req.To, typ, data))
	case "forceDisconnect":
		c.result(req, CodeForceDisc, c.sess.ForceDisconnect(c.me.ID, req.ConnectionID))
	case "forceUnpublish":
		c.result(req, CodeForceUnpub, c.sess.ForceUnpublish(c.me.ID, req.StreamID))
	case "forceMuteStream":
		c.result(req, 0, c.sess.ForceMuteStream(c.me.ID, req.StreamID))
	case "forceMuteAll":
		c.result(req, 0, c.sess.ForceMuteAll(c.me.ID, req.ExcludedStreamIDs))
	case "disableForceMute":
		c.result(req, 0, c.sess.DisableForceMute(c.me.ID))
	}
}

// result answers a request with a reply, or with the session's refusal.
// A refusal's code is the session's (400, 403, 404, 409, 413) unless the
// request has an OpenTok client code for "not allowed" (forbidden).
func (c *conn) result(req *Request, forbiddenCode int, err error) {
	if err == nil {
		c.reply(Message{Type: "reply", ID: req.ID})
		return
	}
	code := session.Code(err)
	if code == 0 {
		code = CodeInternal
	}
	if code == 403 && forbiddenCode != 0 {
		code = forbiddenCode
	}
	c.errorMsg(req.ID, code, "%v", err)
}

func (c *conn) subscriber(id string) *sfu.Subscriber {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subscribers[id]
}

func (c *conn) publish(ctx context.Context, req *Request) {
	if !c.me.Capabilities().Publish {
		c.errorMsg(req.ID, CodeUnableToPub, "unable to publish: role %s cannot publish", c.me.Role)
		return
	}
	relayed := c.sess.MediaMode() == session.Relayed
	if req.Stream == nil || (req.Offer == "" && !relayed) {
		c.errorMsg(req.ID, CodeInvalidParam, "publish needs stream and offer")
		return
	}
	spec := session.StreamSpec{
		ID:   uuid.NewString(),
		Name: req.Stream.Name, HasAudio: req.Stream.HasAudio, HasVideo: req.Stream.HasVideo,
		VideoType: req.Stream.VideoType, FrameRate: req.Stream.FrameRate,
	}
	if d := req.Stream.VideoDimensions; d != nil {
		spec.VideoDimensions = session.VideoDimensions{Width: d.Width, Height: d.Height}
	}
	if relayed {
		c.publishRelayed(req, spec)
		return
	}
	nctx, cancel := context.WithTimeout(ctx, negotiateTimeout)
	defer cancel()
	// The SFU side exists before the session announces the stream, so
	// that a subscriber reacting to streamCreated always finds it.
	connID := c.me.ID
	st, answer, err := c.srv.SFU.Publish(nctx, spec.ID, req.Offer, sfu.PublishOptions{Loopback: c.loopback, OnClose: func(reason string) {
		_ = c.sess.Unpublish(connID, spec.ID, reason)
	}})
	if err != nil {
		c.errorMsg(req.ID, CodeUnableToPub, "unable to publish: %v", err)
		return
	}
	stream, err := c.sess.Publish(c.me.ID, spec)
	if err != nil {
		st.Close()
		c.result(req, CodeUnableToPub, err)
		return
	}
	c.mu.Lock()
	c.publishers[stream.ID] = st
	c.mu.Unlock()
	c.srv.conns.Add(1) // the server's Close waits for this too
	go func() {
		defer c.srv.conns.Done()
		// Forget the SFU stream when it ends, whoever ended it.
		<-st.Done()
		c.mu.Lock()
		if c.publishers[stream.ID] == st {
			delete(c.publishers, stream.ID)
		}
		c.mu.Unlock()
	}()
	c.reply(Message{Type: "reply", ID: req.ID, StreamID: stream.ID, Answer: answer})
}

func (c *conn) updateStream(req *Request) {
	var v any
	switch req.Property {
	case "hasAudio", "hasVideo":
		var b bool
		if err := json.Unmarshal(req.Value, &b); err != nil {
			c.errorMsg(req.ID, 400, "%s must be true or false", req.Property)
			return
		}
		v = b
	case "videoDimensions":
		var d Dimensions
		if err := json.Unmarshal(req.Value, &d); err != nil {
			c.errorMsg(req.ID, 400, "videoDimensions must be {width, height}")
			return
		}
		v = session.VideoDimensions{Width: d.Width, Height: d.Height}
	default:
		c.errorMsg(req.ID, 400, "unknown stream property %q", req.Property)
		return
	}
	c.result(req, 0, c.sess.UpdateStream(c.me.ID, req.StreamID, req.Property, v))
}

func (c *conn) subscribe(ctx context.Context, req *Request) {
	if err := c.sess.CanSubscribe(c.me.ID, req.StreamID); err != nil {
		c.result(req, CodeSubscribe, err)
		return
	}
	if c.sess.MediaMode() == session.Relayed {
		c.subscribeRelayed(req)
		return
	}
	if err := validResolution(req.PreferredResolution); err != nil {
		c.errorMsg(req.ID, 400, "%v", err)
		return
	}
	id := newID()
	nctx, cancel := context.WithTimeout(ctx, negotiateTimeout)
	defer cancel()
	layers := 1
	if st, ok := c.srv.SFU.Stream(req.StreamID); ok {
		layers = st.VideoLayers()
	}
	sub, offer, err := c.srv.SFU.Subscribe(nctx, id, req.StreamID, sfu.SubscribeOptions{
		Audio:      req.Audio == nil || *req.Audio,
		Video:      req.Video == nil || *req.Video,
		VideoLayer: c.layerFor(req.StreamID, layers, req.PreferredResolution),
		Loopback:   c.loopback,
		OnClose: func(reason string) {
			c.mu.Lock()
			delete(c.subscribers, id)
			c.mu.Unlock()
			// A stream's end reaches the client as streamDestroyed; only a
			// subscription failing on its own needs telling.
			if reason != "streamDestroyed" {
				c.reply(Message{Type: "subscriberClosed", SubscriberID: id, StreamID: req.StreamID, Reason: reason})
			}
		},
	})
	if err != nil {
		c.errorMsg(req.ID, CodeSubscribe, "unable to subscribe: %v", err)
		return
	}
	c.mu.Lock()
	c.subscribers[id] = sub
	c.mu.Unlock()
	c.reply(Message{Type: "reply", ID: req.ID, SubscriberID: id, StreamID: req.StreamID, Offer: offer})
}

// restartICE renegotiates ICE after the client's network changed: a
// publisher sends a new offer (streamId + sdp), a subscriber asks for one
// (subscriberId).
func (c *conn) restartICE(ctx context.Context, req *Request) {
	nctx, cancel := context.WithTimeout(ctx, negotiateTimeout)
	defer cancel()
	if req.SubscriberID != "" {
		sub := c.subscriber(req.SubscriberID)
		if sub == nil {
			c.errorMsg(req.ID, 404, "unknown subscriber %q", req.SubscriberID)
			return
		}
		offer, err := sub.RestartICE(nctx)
		if err != nil {
			c.errorMsg(req.ID, CodeSubscribe, "%v", err)
			return
		}
		c.reply(Message{Type: "reply", ID: req.ID, SubscriberID: req.SubscriberID, Offer: offer})
		return
	}
	c.mu.Lock()
	st := c.publishers[req.StreamID]
	c.mu.Unlock()
	if st == nil {
		c.errorMsg(req.ID, 404, "unknown stream %q", req.StreamID)
		return
	}
	answer, err := st.RestartICE(nctx, req.SDP)
	if err != nil {
		c.errorMsg(req.ID, CodeUnableToPub, "%v", err)
		return
	}
	c.reply(Message{Type: "reply", ID: req.ID, StreamID: req.StreamID, Answer: answer})
}

func (c *conn) candidate(req *Request) {
	if req.Candidate == nil {
		c.errorMsg(req.ID, CodeInvalidParam, "candidate missing")
		return
	}
	c.mu.Lock()
	st, sub := c.publishers[req.PC], c.subscribers[req.PC]
	c.mu.Unlock()
	var err error
	switch {
	case st != nil:
		err = st.AddICECandidate(iceCandidate(req.Candidate))
	case sub != nil:
		err = sub.AddICECandidate(iceCandidate(req.Candidate))
	default:
		c.errorMsg(req.ID, 404, "unknown peer connection %q", req.PC)
		return
	}
	if err != nil {
		c.errorMsg(req.ID, CodeInvalidParam, "bad candidate: %v", err)
		return
	}
	if req.ID != 0 {
		c.reply(Message{Type: "reply", ID: req.ID})
	}
}

// maxDimension bounds a preferred width or height: far beyond any video.
const maxDimension = 16384

func validResolution(d *Dimensions) error {
	if d == nil {
		return nil
	}
	if d.Width < 0 || d.Height < 0 || d.Width > maxDimension || d.Height > maxDimension {
		return fmt.Errorf("preferredResolution %dx%d: want sizes from 0 to %d", d.Width, d.Height, maxDimension)
	}
	return nil
}

// layerFor picks the simulcast layer of a stream for a preferred
// resolution: the best one no larger than it. Layers are taken to halve
// the size from one to the next down from the stream's announced video
// dimensions, as publishers send them (browsers' scaleResolutionDownBy 4,
// 2, 1). No preference, or a zero size, means the best layer.
func (c *conn) layerFor(streamID string, layers int, want *Dimensions) int {
	st, ok := c.sess.Stream(streamID)
	if !ok {
		return layers - 1
	}
	return layerForSize(st.VideoDimensions.Width, st.VideoDimensions.Height, layers, want)
}

// layerForSize is layerFor for a stream of w x h sent as that many layers.
func layerForSize(w, h, layers int, want *Dimensions) int {
	top := layers - 1
	if want == nil || (want.Width == 0 && want.Height == 0) || layers <= 1 || w <= 0 || h <= 0 {
		return max(top, 0)
	}
	for l := top; l > 0; l-- {
		// A tenth of slack: 640x360 asked of a 1280x720 stream is its
		// half layer even when the encoder rounded it to 640x368.
		fits := (want.Width == 0 || w*10 <= want.Width*11) && (want.Height == 0 || h*10 <= want.Height*11)
		if fits {
			return l
		}
		w, h = w/2, h/2
	}
	return 0
}
