package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
)

// TestReconnectAfterNetworkCut: the page's link to Parley is cut for two
// seconds; the session reports reconnecting then reconnected, keeps its
// connection, and media and signals flow again.
func TestReconnectAfterNetworkCut(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	px := newProxy(t, strings.TrimPrefix(e.srv.URL, "http://"))
	// a reaches Parley through the proxy: its SDK, and so its signaling,
	// come from the proxy's address.
	a := e.b.open(t, "a", e.site.URL+"/harness.html")
	a.waitFor(10*time.Second, "window.OT && window.harnessReady")
	a.must(5*time.Second, `OT.setServerUrl(`+js(px.URL)+`);`, nil)
	b := e.harness(t, "b")
	joinAll(t, e, sid, []*page{a, b})
	decodesOthers(t, a, 1, false)
	decodesOthers(t, b, 1, false)
	var before string
	a.must(5*time.Second, "return H.session.connection.connectionId;", &before)

	px.cut(2 * time.Second)
	a.waitFor(10*time.Second, `H.log.some(e => e.type === 'sessionReconnecting')`)
	// A signal sent while a is away reaches it once it is back.
	b.must(5*time.Second, `await new Promise((res, rej) => H.session.signal({type: 'missed', data: 'while away'}, e => e ? rej(e) : res()));`, nil)
	a.waitFor(20*time.Second, `H.log.some(e => e.type === 'sessionReconnected')`)
	a.waitFor(5*time.Second, `H.log.some(e => e.type.startsWith('signal') && e.data === 'while away')`)

	var after string
	a.must(5*time.Second, "return H.session.connection.connectionId;", &after)
	if after != before {
		t.Errorf("connection id changed across the reconnect: %s → %s", before, after)
	}
	var lost bool
	b.must(5*time.Second, `return H.log.some(e => e.type === 'connectionDestroyed' || e.type === 'streamDestroyed');`, &lost)
	if lost {
		t.Error("the other page saw the reconnecting page leave")
	}
	decodesOthers(t, a, 1, false)
	decodesOthers(t, b, 1, false)
}
