package signaling

import (
	"sync"

	"github.com/google/uuid"

	"github.com/parleyhq/parley/internal/session"
)

// In relayed sessions media flows between browsers: the publisher opens
// one peer connection per subscriber, and Parley only carries their
// offers, answers and candidates. A relay is one such subscription.
type relay struct {
	id, streamID string
	pub, sub     *conn
}

// relays tracks the relayed subscriptions of a node.
type relays struct {
	mu   sync.Mutex
	byID map[string]*relay
}

func (r *relays) add(rl *relay) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID == nil {
		r.byID = map[string]*relay{}
	}
	r.byID[rl.id] = rl
}

func (r *relays) get(id string) *relay {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

func (r *relays) remove(id string) *relay {
	r.mu.Lock()
	defer r.mu.Unlock()
	rl := r.byID[id]
	delete(r.byID, id)
	return rl
}

// removeMatching removes and returns the relays for which match is true.
func (r *relays) removeMatching(match func(*relay) bool) []*relay {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*relay
	for id, rl := range r.byID {
		if match(rl) {
			out = append(out, rl)
			delete(r.byID, id)
		}
	}
	return out
}

// publishRelayed announces a stream whose media the publisher will send
// peer to peer: no SFU is involved, so there is no offer to answer.
func (c *conn) publishRelayed(req *Request, spec session.StreamSpec) {
	spec.ID = uuid.NewString()
	stream, err := c.sess.Publish(c.me.ID, spec)
	if err != nil {
		c.result(req, CodeUnableToPub, err)
		return
	}
	c.reply(Message{Type: "reply", ID: req.ID, StreamID: stream.ID, Relayed: true})
}

// subscribeRelayed asks the stream's publisher to open a peer connection
// to this client. The subscriber gets a subscriber id now, and the
// publisher's offer as a relay message.
func (c *conn) subscribeRelayed(req *Request) {
	st, ok := c.sess.Stream(req.StreamID)
	if !ok {
		c.errorMsg(req.ID, 404, "stream %q not found", req.StreamID)
		return
	}
	pub := c.srv.connByID(st.ConnectionID)
	if pub == nil {
		c.errorMsg(req.ID, 404, "the publisher of stream %q is gone", req.StreamID)
		return
	}
	rl := &relay{id: newID(), streamID: st.ID, pub: pub, sub: c}
	c.srv.relays.add(rl)
	me := connectionJSON(c.me)
	audio, video := req.Audio == nil || *req.Audio, req.Video == nil || *req.Video
	// The reply goes first, so that the subscriber knows the id before the
	// publisher's offer (which it sends after seeing relaySubscribe) can
	// arrive.
	c.reply(Message{Type: "reply", ID: req.ID, SubscriberID: rl.id, StreamID: st.ID, Relayed: true})
	pub.reply(Message{Type: "relaySubscribe", SubscriberID: rl.id, StreamID: st.ID, Connection: &me,
		Audio: &audio, Video: &video})
}

// forwardRelay carries one offer, answer, candidate or restart request
// between the two ends of a relayed subscription.
func (c *conn) forwardRelay(req *Request) {
	rl := c.srv.relays.get(req.SubscriberID)
	if rl == nil || (rl.pub != c && rl.sub != c) {
		c.errorMsg(req.ID, 404, "unknown relayed subscription %q", req.SubscriberID)
		return
	}
	n := 0
	for _, set := range []bool{req.Offer != "", req.Answer != "", req.Candidate != nil, req.Restart} {
		if set {
			n++
		}
	}
	if n != 1 {
		c.errorMsg(req.ID, CodeInvalidParam, "relay carries exactly one of offer, answer, candidate, restart")
		return
	}
	to := rl.sub
	if c == rl.sub {
		to = rl.pub
	}
	to.reply(Message{Type: "relay", SubscriberID: rl.id, StreamID: rl.streamID, Offer: req.Offer,
		Answer: req.Answer, Candidate: req.Candidate, Restart: req.Restart})
	if req.ID != 0 {
		c.reply(Message{Type: "reply", ID: req.ID, SubscriberID: rl.id})
	}
}

// unsubscribeRelayed ends a relayed subscription at the subscriber's
// request; the publisher closes its peer connection for it.
func (c *conn) unsubscribeRelayed(req *Request) bool {
	rl := c.srv.relays.get(req.SubscriberID)
	if rl == nil || rl.sub != c {
		return false
	}
	c.srv.relays.remove(rl.id)
	rl.pub.reply(Message{Type: "relayUnsubscribe", SubscriberID: rl.id, StreamID: rl.streamID})
	c.reply(Message{Type: "reply", ID: req.ID, SubscriberID: rl.id})
	return true
}

// endRelays forgets c's relayed subscriptions, or those of stream
// streamID ("" = all of c's: c left), telling publishers.
func (c *conn) endRelays(streamID string) {
	ended := c.srv.relays.removeMatching(func(rl *relay) bool {
		if streamID != "" {
			return rl.streamID == streamID
		}
		return rl.pub == c || rl.sub == c
	})
	// Subscribers learn of a stream's end from streamDestroyed; only the
	// publisher, which holds a peer connection per subscriber, needs a
	// word when a subscriber goes.
	for _, rl := range ended {
		if rl.pub != c {
			rl.pub.reply(Message{Type: "relayUnsubscribe", SubscriberID: rl.id, StreamID: rl.streamID})
		}
	}
}
