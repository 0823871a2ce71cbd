// Package e2e runs OpenTok.js-style pages in Debian's headless Chromium,
// with a fake camera and microphone, against a live `parley serve`.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/pkg/opentok"
	"github.com/parleyhq/parley/test/live"
)

// browser is one headless Chromium shared by a test's pages.
type browser struct {
	alloc  context.Context
	cancel context.CancelFunc
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	exe := ""
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if found, err := exec.LookPath(p); err == nil {
			exe = found
			break
		}
	}
	if exe == "" {
		live.Missing(t, "chromium not found on PATH; ./scripts/test installs it")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	// The first context starts the browser; pages are new browser contexts
	// inside it.
	root, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{alloc: root, cancel: cancel}
}

// page is one tab, a user of its own.
type page struct {
	t    testing.TB
	ctx  context.Context
	name string

	mu      sync.Mutex
	logs    []string
	dialogs []string
}

// open starts a tab in its own browser context (its own cookies and
// storage: a separate user) and loads url.
func (b *browser) open(t testing.TB, name, url string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.alloc, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &page{t: t, ctx: ctx, name: name}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`))
			}
			p.log(fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
		case *runtime.EventExceptionThrown:
			p.log(fmt.Sprintf("exception: %s %v", ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception))
		case *cdppage.EventJavascriptDialogOpening:
			// alert() would stall the page; record it and dismiss it.
			p.log("dialog: " + ev.Message)
			p.mu.Lock()
			p.dialogs = append(p.dialogs, ev.Message)
			p.mu.Unlock()
			go chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	})
	if err != nil {
		t.Fatalf("%s: start the browser: %v", name, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("%s: open %s: %v", name, url, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			var state any
			if err := p.eval(5*time.Second, "return H.diagnose ? await H.diagnose() : null;", &state); err != nil {
				state = err.Error()
			}
			b, _ := json.Marshal(state)
			t.Logf("%s page state: %s", name, b)
			p.mu.Lock()
			t.Logf("%s page log:\n  %s", name, strings.Join(p.logs, "\n  "))
			p.mu.Unlock()
		}
	})
	return p
}

func (p *page) log(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.logs) < 500 {
		p.logs = append(p.logs, s)
	}
}

// eval runs an async JavaScript function body in the page and decodes
// its result into out (if non-nil). The body may use await.
func (p *page) eval(timeout time.Duration, body string, out any) error {
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	js := "(async () => {" + body + "\n})()"
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// must is eval that fails the test on error.
func (p *page) must(timeout time.Duration, body string, out any) {
	p.t.Helper()
	if err := p.eval(timeout, body, out); err != nil {
		p.t.Fatal(err)
	}
}

// waitFor polls a JavaScript expression until it is true.
func (p *page) waitFor(timeout time.Duration, expr string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := p.eval(5*time.Second, "return !!("+expr+");", &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			var state any
			if derr := p.eval(5*time.Second, "return H.diagnose ? await H.diagnose() : null;", &state); derr != nil {
				state = derr
			}
			b, _ := json.Marshal(state)
			p.t.Fatalf("%s: %s not true within %v (last error %v)\npage state: %s", p.name, expr, timeout, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// site serves the test pages from an origin other than Parley's, as an
// application would: the pages load the SDK from Parley with <script>.
type site struct {
	URL string
}

func newSite(t testing.TB, parleyURL string) *site {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// Libraries built on OpenTok.js, as installed by ./scripts/test.
	mux.HandleFunc("/lib/network-test.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, networkTestLib)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "blank.html"
		}
		b, err := os.ReadFile(filepath.Join("testdata", filepath.Base(name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(name, ".html") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			b = []byte(strings.ReplaceAll(string(b), "{{PARLEY}}", parleyURL))
		} else if strings.HasSuffix(name, ".js") {
			w.Header().Set("Content-Type", "text/javascript")
		}
		w.Write(b)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &site{URL: "http://" + ln.Addr().String()}
}

// networkTestLib is the published pre-call test's browser bundle.
var networkTestLib = filepath.Join(live.Root(), "test", "node", "node_modules", "opentok-network-test-js", "dist", "NetworkTest", "index.js")

// env is a live server, a site and a browser.
type env struct {
	srv  *live.Server
	ot   *opentok.Client
	site *site
	b    *browser
}

func newEnv(t testing.TB, args ...string) *env {
	t.Helper()
	b := newBrowser(t)
	srv := live.Start(t, args...)
	return &env{srv: srv, ot: opentok.New(srv.APIKey, srv.Secret(t), srv.URL), site: newSite(t, srv.URL), b: b}
}

func (e *env) session(t testing.TB, mode opentok.MediaMode) string {
	t.Helper()
	s, err := e.ot.CreateSession(context.Background(), opentok.SessionOptions{MediaMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func (e *env) token(t testing.TB, sid string, role opentok.Role, data string) string {
	t.Helper()
	tok, err := e.ot.GenerateToken(sid, opentok.TokenOptions{Role: role, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// harness opens the test page (which loads the SDK from Parley) as a
// new user.
func (e *env) harness(t testing.TB, name string) *page {
	t.Helper()
	p := e.b.open(t, name, e.site.URL+"/harness.html")
	p.waitFor(10*time.Second, "window.OT && window.harnessReady")
	return p
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
