package rtc

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/signaling"
	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
)

// TestRelayedSignaling checks what Parley does in a relayed session: it
// announces streams without an SFU and carries the peers' offers, answers
// and candidates between publisher and subscriber, and ends the relayed
// subscriptions when a side leaves. (Browsers exchanging real media this
// way are tested in test/e2e.)
func TestRelayedSignaling(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Relayed)
	ctx := ctx10(t)
	pub := e.connect(t, sid, opentok.RolePublisher, "pub")
	sub := e.connect(t, sid, opentok.RolePublisher, "sub")
	only := e.connect(t, sid, opentok.RolePublisherOnly, "only")

	m, err := pub.Do(ctx, signaling.Request{Type: "publish", Stream: &signaling.StreamSpec{Name: "p2p", HasAudio: true, HasVideo: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Relayed || m.StreamID == "" || m.Answer != "" {
		t.Fatalf("relayed publish reply: %+v", m)
	}
	streamID := m.StreamID
	waitEvent(t, sub, 5*time.Second, func(ev rtcclient.Event) bool {
		return ev.Type == "streamCreated" && ev.Stream.StreamID == streamID
	})
	if _, err := only.Do(ctx, signaling.Request{Type: "subscribe", StreamID: streamID}); code(err) != signaling.CodeSubscribe {
		t.Fatalf("publisheronly subscribing in a relayed session: %v", err)
	}

	m, err = sub.Do(ctx, signaling.Request{Type: "subscribe", StreamID: streamID})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Relayed || m.SubscriberID == "" || m.Offer != "" {
		t.Fatalf("relayed subscribe reply: %+v", m)
	}
	subID := m.SubscriberID
	ev := waitEvent(t, pub, 5*time.Second, isType("relaySubscribe"))
	if ev.SubscriberID != subID || ev.StreamID != streamID || ev.Connection.ConnectionID != sub.Connection.ConnectionID || !*ev.Audio || !*ev.Video {
		t.Fatalf("relaySubscribe: %+v", ev)
	}

	// Offer, answer and candidates travel between the two ends untouched.
	if _, err := pub.Do(ctx, signaling.Request{Type: "relay", SubscriberID: subID, Offer: "v=0 offer"}); err != nil {
		t.Fatal(err)
	}
	ev = waitEvent(t, sub, 5*time.Second, isType("relay"))
	if ev.Offer != "v=0 offer" || ev.SubscriberID != subID {
		t.Fatalf("relayed offer: %+v", ev)
	}
	if _, err := sub.Do(ctx, signaling.Request{Type: "relay", SubscriberID: subID, Answer: "v=0 answer"}); err != nil {
		t.Fatal(err)
	}
	if ev = waitEvent(t, pub, 5*time.Second, isType("relay")); ev.Answer != "v=0 answer" {
		t.Fatalf("relayed answer: %+v", ev)
	}
	mid := "0"
	if _, err := sub.Do(ctx, signaling.Request{Type: "relay", SubscriberID: subID, Candidate: &signaling.Candidate{Candidate: "candidate:1 1 udp 1 10.0.0.1 9 typ host", SDPMid: &mid}}); err != nil {
		t.Fatal(err)
	}
	if ev = waitEvent(t, pub, 5*time.Second, isType("relay")); ev.Candidate == nil || *ev.Candidate.SDPMid != "0" {
		t.Fatalf("relayed candidate: %+v", ev)
	}

	// Only the two ends may use the subscription, one payload at a time.
	if _, err := only.Do(ctx, signaling.Request{Type: "relay", SubscriberID: subID, Offer: "x"}); code(err) != 404 {
		t.Fatalf("a third connection relaying: %v", err)
	}
	if _, err := pub.Do(ctx, signaling.Request{Type: "relay", SubscriberID: subID, Offer: "x", Answer: "y"}); code(err) != signaling.CodeInvalidParam {
		t.Fatalf("two payloads at once: %v", err)
	}

	// The subscriber leaves: the publisher is told to close its side.
	sub.Disconnect()
	ev = waitEvent(t, pub, 10*time.Second, isType("relayUnsubscribe"))
	if ev.SubscriberID != subID {
		t.Fatalf("relayUnsubscribe: %+v", ev)
	}
}
