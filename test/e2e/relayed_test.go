package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/pkg/rtcclient"
)

// pathEnd is one end of a selected ICE candidate pair, as H.paths()
// reports it.
type pathEnd struct {
	Address  string `json:"address"`
	Port     int    `json:"port"`
	Type     string `json:"type"`
	Protocol string `json:"protocol"`
	URL      string `json:"url"`
}

func (pe *pathEnd) String() string {
	if pe == nil {
		return "none"
	}
	return fmt.Sprintf("%s %s:%d/%s", pe.Type, pe.Address, pe.Port, pe.Protocol)
}

// mediaPath is the selected candidate pair of one peer connection.
type mediaPath struct {
	Local  *pathEnd   `json:"local"`
	Remote *pathEnd   `json:"remote"`
	Locals []*pathEnd `json:"locals"`
}

type publisherPath struct {
	ConnectionID string     `json:"connectionId"`
	Path         *mediaPath `json:"path"`
}

// pathReport is where a page's media flows: per subscribed stream, and
// per published stream one entry per peer connection (per subscriber in
// a relayed session).
type pathReport struct {
	Subscribers map[string]*mediaPath      `json:"subscribers"`
	Publishers  map[string][]publisherPath `json:"publishers"`
}

func paths(t *testing.T, p *page) pathReport {
	t.Helper()
	var r pathReport
	p.must(10*time.Second, "return await H.paths();", &r)
	return r
}

// relayOnly are session options that allow relay candidates only: the
// page's media must go through a TURN server.
var relayOnly = map[string]any{"iceConfig": map[string]any{"includeServers": "all", "transportPolicy": "relay"}}

// joinWith connects p to sid with sessionOptions (initSession's third
// argument); it publishes and subscribes to every other stream, as
// joinAll does.
func joinWith(t *testing.T, e *env, sid string, p *page, name string, sessionOptions any) {
	t.Helper()
	tok := e.token(t, sid, opentok.RolePublisher, "user="+name)
	p.must(20*time.Second, fmt.Sprintf(`await H.connect(%s, %s, %s, {autoSubscribe: true, sessionOptions: %s});
		await H.publish({name: %s, resolution: '320x240', frameRate: 15});`,
		js(e.srv.APIKey), js(sid), js(tok), js(sessionOptions), js(name)), nil)
}

// requireTURN fails the test unless the server hands out a TURN server,
// with credentials, in `connected`. It returns the TURN URLs.
func requireTURN(t *testing.T, e *env) []string {
	t.Helper()
	sid := e.session(t, opentok.Routed)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtcclient.Connect(ctx, e.srv.URL, sid, e.token(t, sid, opentok.RolePublisher, "probe"), rtcclient.Options{})
	if err != nil {
		t.Fatalf("connect to read the ICE servers: %v", err)
	}
	defer c.Disconnect()
	var urls []string
	for _, s := range c.ICEServers {
		for _, u := range s.URLs {
			if isTURN(u) {
				if s.Username == "" || s.Credential == "" {
					t.Fatalf("TURN server %s handed out without credentials", u)
				}
				urls = append(urls, u)
			}
		}
	}
	if len(urls) == 0 {
		t.Fatalf("no TURN servers handed out: connected.iceServers = %+v", c.ICEServers)
	}
	return urls
}

func isTURN(url string) bool {
	return strings.HasPrefix(url, "turn:") || strings.HasPrefix(url, "turns:")
}

// viaTURN tells whether a local candidate's traffic goes through one of
// the TURN servers urls. Chrome names the TURN server (url) of a relay
// candidate, and of a peer-reflexive one that the peer saw coming from
// the relay (the relay's own address as the peer sees it).
func viaTURN(local *pathEnd, urls []string) bool {
	if local == nil || !isTURN(local.URL) || (local.Type != "relay" && local.Type != "prflx") {
		return false
	}
	base := func(u string) string { return strings.SplitN(u, "?", 2)[0] }
	for _, u := range urls {
		if base(u) == base(local.URL) {
			return true
		}
	}
	return false
}

// pageIDs are a page's connection id and the ids of the streams it
// publishes.
type pageIDs struct {
	Connection string   `json:"connection"`
	Streams    []string `json:"streams"`
}

func idsOf(t *testing.T, p *page) pageIDs {
	t.Helper()
	var ids pageIDs
	p.must(5*time.Second, `return {connection: H.session.connection.connectionId,
		streams: H.publishers.filter(p => p.stream).map(p => p.stream.streamId)};`, &ids)
	return ids
}

// checkPeerToPeer proves that the pages receive each other's media
// straight from the other browser: the remote end of each subscriber's
// selected candidate pair is the local end of the publishing page's peer
// connection for that subscriber, and not a TURN relay.
func checkPeerToPeer(t *testing.T, pages []*page) {
	t.Helper()
	ids := make([]pageIDs, len(pages))
	reports := make([]pathReport, len(pages))
	owner := map[string]int{}
	for i, p := range pages {
		ids[i] = idsOf(t, p)
		reports[i] = paths(t, p)
		for _, s := range ids[i].Streams {
			owner[s] = i
		}
	}
	for i, p := range pages {
		for streamID, path := range reports[i].Subscribers {
			j, ok := owner[streamID]
			if !ok {
				continue // a stream of a page outside this set
			}
			q := pages[j]
			if path == nil || path.Remote == nil || path.Local == nil {
				t.Errorf("%s: the subscriber to %s's stream has no selected candidate pair", p.name, q.name)
				continue
			}
			if path.Remote.Type == "relay" || path.Local.Type == "relay" {
				t.Errorf("%s: media from %s goes through a TURN relay: %s ← %s", p.name, q.name, path.Local, path.Remote)
			}
			var peer *publisherPath
			for k, pp := range reports[j].Publishers[streamID] {
				if pp.ConnectionID == ids[i].Connection {
					peer = &reports[j].Publishers[streamID][k]
				}
			}
			if peer == nil {
				t.Errorf("%s has no peer connection for subscriber %s (publisher entries %+v)", q.name, p.name, reports[j].Publishers[streamID])
				continue
			}
			if peer.Path == nil || peer.Path.Local == nil {
				t.Errorf("%s: the peer connection to %s has no selected candidate pair", q.name, p.name)
				continue
			}
			if peer.Path.Local.Address != path.Remote.Address || peer.Path.Local.Port != path.Remote.Port {
				t.Errorf("%s receives %s's stream from %s, but %s sends it from %s: not peer to peer",
					p.name, q.name, path.Remote, q.name, peer.Path.Local)
				continue
			}
			t.Logf("%s ← %s: %s ← %s", p.name, q.name, path.Local, path.Remote)
		}
	}
}

// checkRelayed asserts that all of p's media, received and sent, goes
// through one of the TURN servers urls; peers is how many peer
// connections each of its publishers should have.
func checkRelayed(t *testing.T, p *page, peers int, urls []string) {
	t.Helper()
	r := paths(t, p)
	if len(r.Subscribers) == 0 || len(r.Publishers) == 0 {
		t.Fatalf("%s: no media paths to check: %+v", p.name, r)
	}
	for streamID, path := range r.Subscribers {
		if path == nil || !viaTURN(path.Local, urls) {
			t.Errorf("%s: subscriber to %s does not receive through TURN %v: %+v", p.name, streamID, urls, path)
		}
	}
	for streamID, entries := range r.Publishers {
		if len(entries) != peers {
			t.Errorf("%s: stream %s has %d peer connections, want %d", p.name, streamID, len(entries), peers)
		}
		for _, pp := range entries {
			if pp.Path == nil || !viaTURN(pp.Path.Local, urls) {
				t.Errorf("%s: stream %s is not sent through TURN %v (to %q): %+v", p.name, streamID, urls, pp.ConnectionID, pp.Path)
			} else {
				t.Logf("%s: stream %s to %q: %s (%s) → %s", p.name, streamID, pp.ConnectionID, pp.Path.Local, pp.Path.Local.URL, pp.Path.Remote)
			}
		}
	}
}

// TestRelayedSessionIsPeerToPeer: in a relayed session two pages see and
// hear each other with media flowing browser to browser; the publisher's
// stats have one container per subscriber; a screen share stopped by the
// user ends with reason mediaStopped; unsubscribing closes the
// publisher's peer connection.
func TestRelayedSessionIsPeerToPeer(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Relayed)
	alice, bob := e.harness(t, "alice"), e.harness(t, "bob")
	pages := []*page{alice, bob}
	joinAll(t, e, sid, pages)
	for _, p := range pages {
		decodesOthers(t, p, 1, true)
	}
	checkPeerToPeer(t, pages)

	// Media that never reaches Parley cannot be recorded: archiving a
	// relayed session is refused with 409, as OpenTok refuses it.
	_, err := e.ot.StartArchive(context.Background(), sid, opentok.ArchiveOptions{OutputMode: opentok.Individual})
	var apiErr *opentok.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 409 {
		t.Errorf("archiving a relayed session: %v, want a 409", err)
	}

	// Publisher.getStats: one container per subscriber, naming it.
	bobIDs := idsOf(t, bob)
	var stats []struct {
		ConnectionID string `json:"connectionId"`
		BytesSent    int    `json:"bytesSent"`
	}
	alice.must(5*time.Second, `const s = await H.publishers[0].getStats();
		return s.map(x => ({connectionId: x.connectionId, bytesSent: x.stats.video.bytesSent}));`, &stats)
	if len(stats) != 1 || stats[0].ConnectionID != bobIDs.Connection || stats[0].BytesSent == 0 {
		t.Errorf("alice's publisher stats: %+v, want one container for bob (%s) with video sent", stats, bobIDs.Connection)
	}

	// A second stream, a screen share, reaches bob peer to peer too.
	alice.must(20*time.Second, `await H.publish({videoSource: 'screen', name: 'screen'});`, nil)
	bob.waitFor(10*time.Second, `H.log.some(e => e.type === 'streamCreated' && e.videoType === 'screen')`)
	decodesOthers(t, bob, 2, false)
	checkPeerToPeer(t, pages)

	// The user stops sharing: the capture track's 'ended' event is fired
	// as the browser fires it. The others see the stream end with reason
	// mediaStopped.
	alice.must(5*time.Second, `H.publishers[1].getVideoSource().track.dispatchEvent(new Event('ended'));`, nil)
	bob.waitFor(10*time.Second, `H.log.some(e => e.type === 'streamDestroyed' && e.videoType === 'screen' && e.reason === 'mediaStopped')`)
	alice.waitFor(5*time.Second, `H.log.some(e => e.source === 'publisher' && e.type === 'streamDestroyed' && e.reason === 'mediaStopped')`)

	// Bob unsubscribes from alice's camera: her peer connection to him
	// closes (relayUnsubscribe).
	bob.must(5*time.Second, `const sub = Object.values(H.subscribers).find(s => s.stream && s.stream.name === 'page 0');
		H.session.unsubscribe(sub);`, nil)
	var peers int
	alice.must(10*time.Second, `for (let i = 0; i < 50; i++) {
			const s = await H.publishers[0].getStats();
			if (s.length === 0) return 0;
			await new Promise(r => setTimeout(r, 100));
		}
		return (await H.publishers[0].getStats()).length;`, &peers)
	if peers != 0 {
		t.Errorf("alice still has %d peer connections after bob unsubscribed", peers)
	}
	// Alice still gets bob's media.
	decodesOthers(t, alice, 1, false)
}

// TestRelayedSessionThroughTURN: a third page that may only use relay
// candidates joins a relayed session; its media to and from the two
// others goes through Parley's TURN server, while theirs stays peer to
// peer.
func TestRelayedSessionThroughTURN(t *testing.T) {
	e := newEnv(t)
	turnURLs := requireTURN(t, e)
	sid := e.session(t, opentok.Relayed)
	a, b, c := e.harness(t, "a"), e.harness(t, "b"), e.harness(t, "relay-only")
	joinAll(t, e, sid, []*page{a, b})
	joinWith(t, e, sid, c, "relay-only", relayOnly)
	for _, p := range []*page{a, b, c} {
		decodesOthers(t, p, 2, true)
	}
	checkRelayed(t, c, 2, turnURLs)
	checkPeerToPeer(t, []*page{a, b})
}

// TestRelayOnlyPageInRoutedSession: a page that may only use relay
// candidates reaches the SFU through Parley's TURN server.
func TestRelayOnlyPageInRoutedSession(t *testing.T) {
	e := newEnv(t)
	turnURLs := requireTURN(t, e)
	sid := e.session(t, opentok.Routed)
	a, b, c := e.harness(t, "a"), e.harness(t, "b"), e.harness(t, "relay-only")
	joinAll(t, e, sid, []*page{a, b})
	joinWith(t, e, sid, c, "relay-only", relayOnly)
	for _, p := range []*page{a, b, c} {
		decodesOthers(t, p, 2, true)
	}
	checkRelayed(t, c, 1, turnURLs)
}
