package e2e

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parleyhq/parley/test/live"
)

// livePress presses a button or link the way a keyboard user does:
// focus, then Enter.
func livePress(p *page, sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Focus(sel), chromedp.KeyEvent(kb.Enter)); err != nil {
		p.t.Fatalf("%s: press %s: %v", p.name, sel, err)
	}
}

// liveScreenshot writes a PNG of the page into $PARLEY_SCREENSHOTS (docs/
// keeps the ones docs/live.md shows), when that is set.
func liveScreenshot(t *testing.T, p *page, file string) {
	t.Helper()
	dir := os.Getenv("PARLEY_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let the layout settle for the picture
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// liveSignUp opens the Live app as a new user, creates an account on the
// sign-in page and follows it to next.
func liveSignUp(t *testing.T, e *env, user, next string) *page {
	t.Helper()
	p := e.b.open(t, user, e.srv.URL+next)
	p.waitFor(10*time.Second, `location.pathname === '/live/signin' && document.querySelector('#signup-form')`)
	p.must(5*time.Second, `
		document.querySelector('#signup-name').value = `+js(user)+`;
		document.querySelector('#signup-password').value = 'a long secret';
		document.querySelector('#signup-repeat').value = 'a long secret';
		return null;`, nil)
	livePress(p, "#signup-submit")
	p.waitFor(10*time.Second, `location.pathname + location.search === `+js(next)+` && document.querySelector('#me') && document.querySelector('#me').textContent === `+js(user))
	return p
}

// liveFramesAdvance waits until the video sel decodes frames, and keeps
// decoding.
func liveFramesAdvance(p *page, sel string) {
	p.t.Helper()
	v := `document.querySelector(` + js(sel) + `)`
	p.waitFor(30*time.Second, v+` && `+v+`.videoWidth > 0 && `+v+`.getVideoPlaybackQuality().totalVideoFrames > 0`)
	p.must(5*time.Second, `window.__frames = `+v+`.getVideoPlaybackQuality().totalVideoFrames; return null;`, nil)
	p.waitFor(20*time.Second, v+`.getVideoPlaybackQuality().totalVideoFrames > window.__frames + 10`)
}

// TestLiveShow runs a show as its users do: a presenter goes live and
// sees her stream come back; three viewers watch it, the presenter sees
// them come and go by name; stopping tells a viewer the show ended; the
// recording is then in the library, lasting as long as the show, and
// plays, seeking.
func TestLiveShow(t *testing.T) {
	live.Require(t, "ffmpeg") // every show is recorded, composed
	e := newEnv(t)

	pam := liveSignUp(t, e, "Pam", "/live/present")
	pam.must(5*time.Second, `window.H = {diagnose: () => ({status: presenter.status, error: document.querySelector('#error').textContent,
		notices: presenter.notices, count: document.querySelector('#viewer-count').textContent})}; return null;`, nil)
	pam.must(5*time.Second, `document.querySelector('#title').value = 'Cooking with Pam'; return null;`, nil)
	livePress(pam, "#start")
	pam.waitFor(30*time.Second, `presenter.status === 'live'`)
	// The preview is her own stream, back through the media router.
	liveFramesAdvance(pam, "#preview video")
	pam.must(5*time.Second, `if (presenter.preview.stream.streamId !== presenter.publisher.stream.streamId) throw new Error('the preview is not her own stream'); return null;`, nil)

	viewers := map[string]*page{}
	watch := func(v *page) {
		t.Helper()
		// /live lists the show: presenter, title, start time.
		v.waitFor(15*time.Second, `document.querySelectorAll('#shows li').length === 1`)
		var item string
		v.must(5*time.Second, `return document.querySelector('#shows li').textContent;`, &item)
		if !strings.Contains(item, "Cooking with Pam") || !strings.Contains(item, "Pam") || !strings.Contains(item, "On air since") {
			t.Fatalf("%s sees the show as %q", v.name, item)
		}
		if len(viewers) == 0 {
			liveScreenshot(t, v, "live-list.png")
		}
		livePress(v, "#shows li a.title")
		v.waitFor(10*time.Second, `location.pathname.startsWith('/live/watch/') && window.viewer`)
		v.must(5*time.Second, `window.H = {diagnose: () => ({status: viewer.status, error: document.querySelector('#error').textContent})}; return null;`, nil)
		v.waitFor(20*time.Second, `viewer.status === 'live'`)
	}
	for _, name := range []string{"Vic", "Wes", "Xan"} {
		v := liveSignUp(t, e, name, "/live")
		watch(v)
		viewers[name] = v
	}
	for _, v := range viewers {
		liveFramesAdvance(v, "#screen video")
	}
	// A viewer's token subscribes only.
	viewers["Vic"].must(5*time.Second, `if (viewer.session.capabilities.publish !== 0) throw new Error('a viewer may publish'); return null;`, nil)

	// The presenter sees the three joins, by name and time, and the count.
	pam.waitFor(15*time.Second, `document.querySelector('#viewer-count').textContent === '3 viewers'`)
	var joins []string
	pam.must(5*time.Second, `return [...document.querySelectorAll('#notices li[data-kind="join"]')].map(li => li.querySelector('time').dateTime + ' ' + li.textContent);`, &joins)
	if all := strings.Join(joins, "|"); len(joins) != 3 || !strings.Contains(all, "Vic joined") || !strings.Contains(all, "Wes joined") || !strings.Contains(all, "Xan joined") {
		t.Fatalf("join notices %q", joins)
	}
	// The on-air list counts them too (the server asks the session).
	pam.waitFor(10*time.Second, `fetch('/live/api/shows').then(r => r.json()).then(j => j.shows.length === 1 && j.shows[0].viewers === 3)`)
	liveScreenshot(t, pam, "live-presenter.png")
	liveScreenshot(t, viewers["Wes"], "live-viewer.png")

	// They leave, three ways: Wes with the Leave button, Xan by closing
	// the tab, Vic by going back to the list.
	livePress(viewers["Wes"], "#leave")
	pam.waitFor(15*time.Second, `[...document.querySelectorAll('#notices li[data-kind="leave"]')].some(li => li.textContent.includes('Wes left')) && document.querySelector('#viewer-count').textContent === '2 viewers'`)
	if err := chromedp.Cancel(viewers["Xan"].ctx); err != nil {
		t.Fatal(err)
	}
	pam.waitFor(15*time.Second, `[...document.querySelectorAll('#notices li[data-kind="leave"]')].some(li => li.textContent.includes('Xan left')) && document.querySelector('#viewer-count').textContent === '1 viewer'`)
	vic := viewers["Vic"]
	if err := chromedp.Do(vic.ctx, chromedp.Navigate(e.srv.URL+"/live")); err != nil {
		t.Fatal(err)
	}
	pam.waitFor(15*time.Second, `document.querySelector('#viewer-count').textContent === '0 viewers'`)
	var kinds []string
	pam.must(5*time.Second, `return presenter.notices.map(n => n.kind + (n.kind === 'start' ? '' : ' ' + n.name));`, &kinds)
	if got := strings.Join(kinds, ","); got != "start,join Vic,join Wes,join Xan,leave Wes,leave Xan,leave Vic" {
		t.Fatalf("the presenter's feed: %s", got)
	}
	// Vic comes back from the list.
	watch(vic)
	liveFramesAdvance(vic, "#screen video")
	pam.waitFor(15*time.Second, `document.querySelector('#viewer-count').textContent === '1 viewer'`)

	time.Sleep(2 * time.Second) // a little more to record
	livePress(pam, "#stop")
	pam.waitFor(30*time.Second, `presenter.status === 'ended' && !document.querySelector('#ended-link').hidden`)
	vic.waitFor(15*time.Second, `viewer.status === 'ended' && !document.querySelector('#ended').hidden && !document.querySelector('#screen video')`)
	var show struct {
		StartedAt int64 `json:"startedAt"`
		EndedAt   int64 `json:"endedAt"`
	}
	pam.must(5*time.Second, `return presenter.show;`, &show)
	// Nothing is on air any more.
	vic.must(5*time.Second, `const j = await (await fetch('/live/api/shows')).json(); if (j.shows.length) throw new Error('still on air'); return null;`, nil)

	// The library lists the recording and plays it, seeking.
	lib := vic
	if err := chromedp.Do(lib.ctx, chromedp.Navigate(e.srv.URL+"/videos")); err != nil {
		t.Fatal(err)
	}
	lib.waitFor(90*time.Second, `window.library && document.querySelector('#videos li[data-status="available"] .play')`)
	var card struct {
		Text     string `json:"text"`
		Duration int    `json:"duration"`
		Location string `json:"location"`
	}
	lib.must(5*time.Second, `const li = document.querySelector('#videos li'); return {text: li.textContent, duration: library.videos[0].duration, location: library.videos[0].location};`, &card)
	length := float64(show.EndedAt-show.StartedAt) / 1000
	if !strings.Contains(card.Text, "Cooking with Pam") || !strings.Contains(card.Text, "Pam") || card.Location != "unknown" ||
		math.Abs(float64(card.Duration)-length) > 1 || card.Duration < 3 {
		t.Fatalf("library card %+v; the show lasted %.1f s", card, length)
	}
	// Filters: by presenter (any case), by duration.
	lib.must(5*time.Second, `document.querySelector('#f-presenter').value = 'nobody'; return null;`, nil)
	livePress(lib, "#apply")
	lib.waitFor(10*time.Second, `library.total === 0 && document.querySelectorAll('#videos li').length === 0`)
	lib.must(5*time.Second, `document.querySelector('#f-presenter').value = 'pam'; document.querySelector('#f-min').value = '1'; return null;`, nil)
	livePress(lib, "#apply")
	lib.waitFor(10*time.Second, `library.total === 1 && document.querySelectorAll('#videos li .play').length === 1`)

	livePress(lib, "#videos li .play")
	lib.waitFor(20*time.Second, `document.querySelector('#player').readyState >= 2 && document.querySelector('#player').videoWidth > 0`)
	lib.waitFor(20*time.Second, `document.querySelector('#player').currentTime > 0.5`)
	liveScreenshot(t, lib, "live-library.png")
	var seeked float64
	lib.must(20*time.Second, `const p = document.querySelector('#player');
		const target = Math.min(p.duration / 2, 2);
		await new Promise((resolve) => { p.addEventListener('seeked', resolve, {once: true}); p.currentTime = target; });
		if (Math.abs(p.currentTime - target) > 0.5) throw new Error('seeked to ' + p.currentTime + ', asked ' + target);
		return p.currentTime;`, &seeked)
	if seeked <= 0 {
		t.Fatalf("seeked to %v", seeked)
	}
}

// TestLiveCalls runs 1:1 calls and random pairing: a call by name
// accepted (both see each other) and hung up, a call rejected, a call
// that rings out, and two waiting users paired, then "next" pairing one
// of them with a third.
func TestLiveCalls(t *testing.T) {
	e := newEnv(t)
	users := map[string]*page{}
	for _, name := range []string{"Ann", "Bob", "Cat"} {
		p := liveSignUp(t, e, name, "/live/call")
		p.must(5*time.Second, `window.H = {diagnose: () => ({presence: calls.presence, message: document.querySelector('#message').textContent,
			error: document.querySelector('#error').textContent, events: calls.events, online: calls.online, call: calls.call})}; return null;`, nil)
		users[name] = p
	}
	ann, bob, cat := users["Ann"], users["Bob"], users["Cat"]
	for _, p := range users {
		p.waitFor(15*time.Second, `calls.presence === 'online'`)
	}
	// Online users are listed, oneself not.
	ann.waitFor(15*time.Second, `[...document.querySelectorAll('#online li')].map(li => li.dataset.name).join() === 'Bob,Cat'`)

	inCall := func(p *page, peer string) {
		t.Helper()
		p.waitFor(20*time.Second, `calls.call && calls.call.peer === `+js(peer)+` && !document.querySelector('#in-call').hidden`)
		liveFramesAdvance(p, "#remote video")
	}
	callByName := func(from *page, to string) {
		t.Helper()
		from.must(5*time.Second, `document.querySelector('#callee').value = `+js(to)+`; return null;`, nil)
		livePress(from, "#call")
	}

	// Ann calls Bob (typing the name in any case); Bob accepts.
	callByName(ann, "bob")
	ann.waitFor(10*time.Second, `document.querySelector('#message').textContent === 'Calling Bob…'`)
	bob.waitFor(10*time.Second, `!document.querySelector('#incoming').hidden && document.querySelector('#incoming-text').textContent === 'Call from Ann. Accept?'`)
	livePress(bob, "#accept")
	inCall(ann, "Bob")
	inCall(bob, "Ann")
	liveScreenshot(t, ann, "live-call.png")
	// Ann hangs up: Bob is told.
	livePress(ann, "#hangup")
	bob.waitFor(15*time.Second, `document.querySelector('#message').textContent === 'Ann hung up.' && document.querySelector('#in-call').hidden && !calls.call`)

	// Ann calls Cat; Cat rejects.
	callByName(ann, "Cat")
	cat.waitFor(10*time.Second, `!document.querySelector('#incoming').hidden`)
	livePress(cat, "#reject")
	ann.waitFor(10*time.Second, `document.querySelector('#message').textContent === 'Cat declined the call.' && !calls.outgoing`)

	// Ann calls Bob, who does not answer: it rings out for both.
	ann.must(5*time.Second, `calls.ringMs = 2000; return null;`, nil)
	bob.must(5*time.Second, `calls.ringMs = 60000; calls.events = []; return null;`, nil)
	callByName(ann, "Bob")
	// (It rang: the page's record says so, however brief the ring.)
	bob.waitFor(10*time.Second, `calls.events.some(e => e.event === 'ringing' && e.peer === 'Ann')`)
	ann.waitFor(10*time.Second, `document.querySelector('#message').textContent === 'No answer from Bob.'`)
	bob.waitFor(10*time.Second, `document.querySelector('#incoming').hidden && document.querySelector('#message').textContent === 'Missed call from Ann.'`)
	// A calling user is refused a call to someone not online, or unknown.
	ann.must(5*time.Second, `
		for (const to of ['Nobody', 'Ann']) {
			const r = await fetch('/live/api/calls', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({to})});
			if (r.status !== 404) throw new Error(to + ': ' + r.status);
		}
		return null;`, nil)

	// Random pairing: Bob waits, Cat arrives, they are paired.
	livePress(bob, "#pair")
	bob.waitFor(10*time.Second, `calls.waiting && document.querySelector('#message').textContent === 'Waiting for someone…'`)
	livePress(cat, "#pair")
	inCall(cat, "Bob")
	inCall(bob, "Cat")
	// Cat moves on: Bob is told, Cat waits and is paired with Ann.
	livePress(cat, "#next")
	bob.waitFor(15*time.Second, `document.querySelector('#message').textContent === 'Cat moved on.' && !calls.call`)
	cat.waitFor(10*time.Second, `calls.waiting`)
	livePress(ann, "#pair")
	inCall(ann, "Cat")
	inCall(cat, "Ann")
}

// TestLiveShowPresenterLeaves closes the presenter's tab mid-show: the
// viewer is told the show ended, it leaves the on-air list, and its
// recording is in the library.
func TestLiveShowPresenterLeaves(t *testing.T) {
	live.Require(t, "ffmpeg")
	e := newEnv(t)
	pam := liveSignUp(t, e, "Pam", "/live/present")
	pam.must(5*time.Second, `document.querySelector('#title').value = 'Short show'; return null;`, nil)
	livePress(pam, "#start")
	pam.waitFor(30*time.Second, `presenter.status === 'live'`)
	vic := liveSignUp(t, e, "Vic", "/live")
	vic.waitFor(15*time.Second, `document.querySelectorAll('#shows li').length === 1`)
	livePress(vic, "#shows li a.title")
	vic.waitFor(20*time.Second, `window.viewer && viewer.status === 'live'`)
	liveFramesAdvance(vic, "#screen video")

	if err := chromedp.Cancel(pam.ctx); err != nil {
		t.Fatal(err)
	}
	vic.waitFor(15*time.Second, `viewer.status === 'ended' && !document.querySelector('#ended').hidden`)
	vic.waitFor(30*time.Second, `fetch('/live/api/shows').then(r => r.json()).then(j => j.shows.length === 0)`)
	vic.waitFor(60*time.Second, `fetch('/live/api/videos').then(r => r.json()).then(j => j.total === 1 && j.videos[0].title === 'Short show' && j.videos[0].status === 'available' && j.videos[0].duration > 0)`)
}
