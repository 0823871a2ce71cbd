package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/parleyhq/parley/pkg/opentok"
)

type mediaReport map[string]struct {
	Frames     int     `json:"frames"`
	Width      int     `json:"width"`
	AudioLevel float64 `json:"audioLevel"`
}

// joinAll connects pages to one session; each publishes and subscribes to
// every other stream.
func joinAll(t *testing.T, e *env, sid string, pages []*page) {
	t.Helper()
	for i, p := range pages {
		tok := e.token(t, sid, opentok.RolePublisher, fmt.Sprintf("user=%d", i))
		p.must(20*time.Second, fmt.Sprintf(`await H.connect(%s, %s, %s, {autoSubscribe: true});
			await H.publish({name: %s, resolution: '320x240', frameRate: 15});`,
			js(e.srv.APIKey), js(sid), js(tok), js(fmt.Sprintf("page %d", i))), nil)
	}
}

// decodesOthers waits until page p shows n remote videos with frames that
// keep coming and, when audio is set, hears them.
func decodesOthers(t *testing.T, p *page, n int, audio bool) {
	t.Helper()
	p.waitFor(20*time.Second, fmt.Sprintf(`Object.keys(H.subscribers).length === %d &&
		Object.values(H.media()).every(m => m.frames > 5 && m.width > 0)`, n))
	// Frames keep coming: each video shows new ones within 5 s. Not
	// within a fixed second: while a simulcast publisher's bandwidth
	// estimate ramps up, its best layer may pause for up to a second
	// (the SFU then moves its subscribers to a lower layer), and a
	// loaded machine's encoder drops frames.
	var before, after mediaReport
	p.must(5*time.Second, "return H.media();", &before)
	stuck := func() (out []string) {
		for id, m := range after {
			if m.Frames <= before[id].Frames {
				out = append(out, fmt.Sprintf("stream %s: frames stuck at %d for 5 s", id, m.Frames))
			}
		}
		return out
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		time.Sleep(250 * time.Millisecond)
		p.must(5*time.Second, "return H.media();", &after)
		if s := stuck(); len(s) == 0 || time.Now().After(deadline) {
			for _, msg := range s {
				t.Errorf("%s: %s", p.name, msg)
			}
			break
		}
	}
	if audio {
		p.waitFor(10*time.Second, "Object.values(H.media()).every(m => m.audioLevel > 0)")
	}
}

func TestTwoPagesSeeAndHearEachOther(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	pages := []*page{e.harness(t, "alice"), e.harness(t, "bob")}
	joinAll(t, e, sid, pages)
	for _, p := range pages {
		decodesOthers(t, p, 1, true)
	}
}

func TestFourPages(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	var pages []*page
	for i := range 4 {
		pages = append(pages, e.harness(t, fmt.Sprintf("page%d", i)))
	}
	joinAll(t, e, sid, pages)
	for _, p := range pages {
		decodesOthers(t, p, 3, false)
	}
}

func TestSignalsPropertiesScreenAndLeaving(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	a, b := e.harness(t, "a"), e.harness(t, "b")
	joinAll(t, e, sid, []*page{a, b})
	decodesOthers(t, b, 1, false)

	// Signals to everyone and to one connection.
	var aID string
	a.must(5*time.Second, "return H.session.connection.connectionId;", &aID)
	b.must(5*time.Second, `await new Promise((res, rej) => H.session.signal({type: 'chat', data: 'hi all'}, e => e ? rej(e) : res()));`, nil)
	b.must(5*time.Second, `const to = Object.values(H.subscribers)[0].stream.connection;
		await new Promise((res, rej) => H.session.signal({type: 'dm', data: 'just you', to}, e => e ? rej(e) : res()));`, nil)
	a.waitFor(5*time.Second, `H.log.some(e => e.type === 'signal:chat' && e.data === 'hi all')`)
	a.waitFor(5*time.Second, `H.log.some(e => e.type.startsWith('signal') && e.data === 'just you')`)
	b.waitFor(5*time.Second, `H.log.some(e => e.type.startsWith('signal') && e.data === 'hi all')`)
	var bGotDM bool
	b.must(5*time.Second, `return H.log.some(e => e.type.startsWith('signal') && e.data === 'just you');`, &bGotDM)
	if bGotDM {
		t.Error("a signal to one connection reached another")
	}
	// A signal that breaks the rules is refused with OpenTok's code.
	var code int
	b.must(5*time.Second, `return await new Promise(res => H.session.signal({type: 'x'.repeat(129), data: ''}, e => res(e ? e.code : 0)));`, &code)
	if code != 400 {
		t.Errorf("signal with a 129-character type: code %d, want 400", code)
	}

	// publishVideo(false) reaches the other side as streamPropertyChanged.
	a.must(5*time.Second, `H.publishers[0].publishVideo(false);`, nil)
	b.waitFor(5*time.Second, `H.log.some(e => e.type === 'streamPropertyChanged' && e.changedProperty === 'hasVideo' && e.oldValue === true && e.newValue === false)`)

	// A screen-sharing publisher appears with videoType screen.
	a.must(20*time.Second, `await H.publish({videoSource: 'screen', name: 'screen'});`, nil)
	b.waitFor(10*time.Second, `H.log.some(e => e.type === 'streamCreated' && e.videoType === 'screen' && e.streamName === 'screen')`)
	decodesOthers(t, b, 2, false)

	// unpublish, then disconnect, with their reasons.
	a.must(5*time.Second, `H.session.unpublish(H.publishers[1]);`, nil)
	b.waitFor(5*time.Second, `H.log.some(e => e.type === 'streamDestroyed' && e.videoType === 'screen' && e.reason === 'clientDisconnected')`)
	a.waitFor(5*time.Second, `H.log.some(e => e.source === 'publisher' && e.type === 'streamDestroyed' && e.reason === 'clientDisconnected')`)
	a.must(5*time.Second, `H.session.disconnect();`, nil)
	a.waitFor(5*time.Second, `H.log.some(e => e.type === 'sessionDisconnected' && e.reason === 'clientDisconnected')`)
	b.waitFor(5*time.Second, `H.log.some(e => e.type === 'connectionDestroyed' && e.connectionId === `+js(aID)+` && e.reason === 'clientDisconnected')`)
	b.waitFor(5*time.Second, `H.log.filter(e => e.type === 'streamDestroyed').length === 2`)
}

func TestRefusals(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	p := e.harness(t, "refused")

	// A garbage token: 1004, to the callback and as an OT exception.
	var got struct {
		Code, Exception int
		Name            string
	}
	p.must(10*time.Second, `let exception = 0;
		OT.on('exception', ev => { exception = ev.code; });
		const s = OT.initSession(`+js(e.srv.APIKey)+`, `+js(sid)+`);
		const err = await new Promise(res => s.connect('garbage', res));
		await new Promise(r => setTimeout(r, 100));
		return {code: err && err.code, name: err && err.name, exception};`, &got)
	if got.Code != 1004 || got.Exception != 1004 {
		t.Errorf("garbage token: %+v, want code 1004 and an exception", got)
	}

	// A subscriber-role token cannot publish: 1500.
	tok := e.token(t, sid, opentok.RoleSubscriber, "")
	p.must(10*time.Second, `await H.connect(`+js(e.srv.APIKey)+`, `+js(sid)+`, `+js(tok)+`);
		let code = 0;
		try { await H.publish(); } catch (err) { code = err.code; }
		return {code, name: '', exception: H.session.capabilities.publish};`, &got)
	if got.Code != 1500 || got.Exception != 0 {
		t.Errorf("subscriber publishing: %+v, want code 1500 and capabilities.publish 0", got)
	}
}

func TestHelloWorldTutorial(t *testing.T) {
	e := newEnv(t)
	sid := e.session(t, opentok.Routed)
	var pages []*page
	for i := range 2 {
		q := url.Values{"apiKey": {e.srv.APIKey}, "sessionId": {sid}, "token": {e.token(t, sid, opentok.RolePublisher, "")}}
		pages = append(pages, e.b.open(t, fmt.Sprintf("hello%d", i), e.site.URL+"/helloworld.html?"+q.Encode()))
	}
	for _, p := range pages {
		p.waitFor(20*time.Second, `(() => {
			const v = document.querySelector('#subscriber video');
			return v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 5;
		})()`)
		p.waitFor(5*time.Second, `(() => { const v = document.querySelector('#publisher video'); return v && v.videoWidth > 0; })()`)
		p.mu.Lock()
		if len(p.dialogs) > 0 {
			t.Errorf("%s showed alerts: %v", p.name, p.dialogs)
		}
		p.mu.Unlock()
	}
}
