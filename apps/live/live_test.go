package live

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
)

func newTestApp(t *testing.T) (*App, *httptest.Server, store.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := New(Options{Store: st, APIKey: "1", APISecret: "s", APIURL: func() string { return "http://127.0.0.1:1" }})
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return a, srv, st
}

type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// do sends a request as the app's own page would (same origin).
func (c *client) do(method, path, contentType, body string, hdr ...string) (*http.Response, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func (c *client) post(path, body string) (*http.Response, map[string]any) {
	c.t.Helper()
	return c.do("POST", path, "application/json", body)
}

func TestAccounts(t *testing.T) {
	_, srv, _ := newTestApp(t)
	ann := newClient(t, srv.URL)

	// Pages need a signed-in user; the API says 401.
	resp, _ := ann.do("GET", "/videos?page=2", "", "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/live/signin?next="+url.QueryEscape("/videos?page=2") {
		t.Fatalf("page while signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := ann.do("GET", "/live/api/me", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("me while signed out: %d", resp.StatusCode)
	}
	if resp, _ := ann.do("GET", "/live/signin", "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in page: %d", resp.StatusCode)
	}

	// Bad input is refused and creates nobody.
	for _, c := range []struct {
		ct, body string
		status   int
	}{
		{"text/plain", `{"name":"Ann","password":"correct horse"}`, http.StatusUnsupportedMediaType},
		{"application/json", `{"name":"Ann",`, http.StatusBadRequest},
		{"application/json", `{"name":"","password":"correct horse"}`, http.StatusBadRequest},
		{"application/json", `{"name":" Ann","password":"correct horse"}`, http.StatusBadRequest},
		{"application/json", `{"name":"Ann<script>","password":"correct horse"}`, http.StatusBadRequest},
		{"application/json", `{"name":"` + strings.Repeat("a", 33) + `","password":"correct horse"}`, http.StatusBadRequest},
		{"application/json", `{"name":"Ann","password":"short"}`, http.StatusBadRequest},
		{"application/json", `{"name":"Ann","password":"` + strings.Repeat("p", 257) + `"}`, http.StatusBadRequest},
		{"application/json", `{"name":"Ann","password":"` + strings.Repeat("p", 17<<10) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		resp, out := ann.do("POST", "/live/api/signup", c.ct, c.body)
		if resp.StatusCode != c.status || out["message"] == "" {
			t.Errorf("sign up %.60s: %d %v, want %d", c.body, resp.StatusCode, out, c.status)
		}
	}
	if resp, _ := ann.post("/live/api/signin", `{"name":"Ann","password":"correct horse"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a refused sign-up created the user: %d", resp.StatusCode)
	}

	// A cross-site form post is refused before anything is read.
	resp, _ = ann.do("POST", "/live/api/signup", "application/json", `{"name":"Ann","password":"correct horse"}`, "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site sign-up: %d", resp.StatusCode)
	}

	resp, out := ann.post("/live/api/signup", `{"name":"Ann","password":"correct horse"}`)
	if resp.StatusCode != http.StatusCreated || out["name"] != "Ann" {
		t.Fatalf("sign up: %d %v", resp.StatusCode, out)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || cookie.Path != "/" {
		t.Fatalf("session cookie: %+v", cookie)
	}
	if _, out := ann.do("GET", "/live/api/me", "", ""); out["name"] != "Ann" {
		t.Fatalf("me: %v", out)
	}
	if resp, _ := ann.do("GET", "/videos", "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("page while signed in: %d", resp.StatusCode)
	}
	// Behind an HTTPS proxy the cookie is Secure.
	other := newClient(t, srv.URL)
	resp, _ = other.do("POST", "/live/api/signup", "application/json", `{"name":"Bob","password":"another secret"}`, "X-Forwarded-Proto", "https")
	if c := resp.Cookies(); resp.StatusCode != http.StatusCreated || len(c) != 1 || !c[0].Secure {
		t.Fatalf("sign-up over https: %d %+v", resp.StatusCode, c)
	}

	// Names are unique without regard to case.
	if resp, _ := newClient(t, srv.URL).post("/live/api/signup", `{"name":"ANN","password":"correct horse"}`); resp.StatusCode != http.StatusConflict {
		t.Fatalf("taken name: %d", resp.StatusCode)
	}

	// Sign out forgets the login on the server: the old cookie is dead.
	if resp, _ := ann.post("/live/api/signout", ``); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	replay := newClient(t, srv.URL)
	u, _ := url.Parse(srv.URL)
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: cookie.Value}})
	if resp, _ := replay.do("GET", "/live/api/me", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("cookie after sign-out: %d", resp.StatusCode)
	}

	// Wrong passwords and unknown names get the same answer.
	for _, body := range []string{`{"name":"Ann","password":"wrong horse"}`, `{"name":"Nobody","password":"correct horse"}`} {
		if resp, out := ann.post("/live/api/signin", body); resp.StatusCode != http.StatusUnauthorized || out["message"] != "wrong name or password" {
			t.Fatalf("sign in %s: %d %v", body, resp.StatusCode, out)
		}
	}
	if resp, out := ann.post("/live/api/signin", `{"name":"ann","password":"correct horse"}`); resp.StatusCode != http.StatusOK || out["name"] != "Ann" {
		t.Fatalf("sign in: %d %v", resp.StatusCode, out)
	}
}

func TestPasswordHash(t *testing.T) {
	h := hashPassword("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q", h)
	}
	if h == hashPassword("correct horse") {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !checkPassword(h, "correct horse") || checkPassword(h, "correct horsf") || checkPassword(h, "") {
		t.Fatal("check")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=1,t=1,p=1$!!$aGFzaA", "plain"} {
		if checkPassword(bad, "x") {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestShowsNeedAValidRequest(t *testing.T) {
	_, srv, _ := newTestApp(t)
	c := newClient(t, srv.URL)
	if resp, _ := c.post("/live/api/signup", `{"name":"Ann","password":"correct horse"}`); resp.StatusCode != http.StatusCreated {
		t.Fatal(resp.Status)
	}
	for _, path := range []string{"/live/api/shows/nope/watch", "/live/api/shows/" + strings.Repeat("a", 26) + "/watch", "/live/api/shows/ABCDEFGHIJKLMNOPQRSTUVWXYZ/stop"} {
		if resp, _ := c.post(path, `{}`); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	for _, body := range []string{`{"title":""}`, `{"title":"a\u0007b"}`, `{"title":"` + strings.Repeat("t", 101) + `"}`, `[]`} {
		if resp, _ := c.post("/live/api/shows", body); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("title %s: %d", body, resp.StatusCode)
		}
	}
	if resp, _ := c.do("GET", "/videos/"+strings.Repeat("a", 26)+"/media", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("media of an unknown show: %d", resp.StatusCode)
	}
}

func TestVideoFilter(t *testing.T) {
	for _, c := range []struct {
		q    string
		ok   bool
		want string
	}{
		{"", true, "p1 s12 off0"},
		{"page=3&size=5&presenter=Ann&location=Lis&minDuration=10&maxDuration=20&from=1000&to=2000", true, "p3 s5 off10 Ann Lis 10-20 1000-2000"},
		{"page=0", true, "p1 s12 off0"},
		{"size=51", false, ""},
		{"page=-1", false, ""},
		{"page=x", false, ""},
		{"from=2000&to=1000", false, ""},
		{"minDuration=30&maxDuration=20", false, ""},
		{"minDuration=1.5", false, ""},
		{"from=99999999999999999999", false, ""},
		{"presenter=" + url.QueryEscape("a\x00b"), false, ""},
	} {
		q, _ := url.ParseQuery(c.q)
		f, page, size, bad := videoFilter(q)
		if (bad == "") != c.ok {
			t.Errorf("%q: refusal %q", c.q, bad)
			continue
		}
		if !c.ok {
			continue
		}
		got := strings.Join(strings.Fields(strings.Join([]string{
			"p" + itoa(page), "s" + itoa(size), "off" + itoa(f.Offset), f.Presenter, f.Location,
			durs(f.MinDuration, f.MaxDuration), times(f.From, f.To)}, " ")), " ")
		if got != c.want || f.Count != size || !f.Recorded || len(f.Statuses) != 1 || f.Statuses[0] != store.ShowEnded {
			t.Errorf("%q: %q %+v, want %q", c.q, got, f, c.want)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func durs(a, b int) string {
	if a == 0 && b == 0 {
		return ""
	}
	return itoa(a) + "-" + itoa(b)
}

func times(a, b time.Time) string {
	if a.IsZero() && b.IsZero() {
		return ""
	}
	return itoa(int(a.UnixMilli())) + "-" + itoa(int(b.UnixMilli()))
}

func TestLocator(t *testing.T) {
	if got := (UnknownLocation{}).Locate(context.Background(), netip.MustParseAddr("192.0.2.1")); got != "unknown" {
		t.Fatalf("default: %q", got)
	}
	a := New(Options{Locator: LocatorFunc(func(_ context.Context, addr netip.Addr) string {
		if addr == netip.MustParseAddr("192.0.2.1") {
			return "Lisbon, Portugal"
		}
		return "bad\x00answer"
	})})
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[::ffff:192.0.2.1]:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	if got := a.locate(context.Background(), r); got != "Lisbon, Portugal" {
		t.Fatalf("lookup: %q", got)
	}
	r.RemoteAddr = "198.51.100.9:1"
	if got := a.locate(context.Background(), r); got != "unknown" {
		t.Fatalf("an answer with control characters: %q", got)
	}
}

func TestSignInThrottle(t *testing.T) {
	a, srv, _ := newTestApp(t)
	now := time.Now()
	a.o.Now = func() time.Time { return now }
	ann := signUp(t, srv.URL, "Ann")
	for i := range MaxFailures {
		if resp, _ := ann.post("/live/api/signin", `{"name":"Ann","password":"wrong horse"}`); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, resp.StatusCode)
		}
	}
	// Now even the right password is refused, for any spelling of the name.
	if resp, _ := ann.post("/live/api/signin", `{"name":"ANN","password":"correct horse"}`); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after %d failures: %d", MaxFailures, resp.StatusCode)
	}
	now = now.Add(FailureWindow)
	if resp, _ := ann.post("/live/api/signin", `{"name":"Ann","password":"correct horse"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the window: %d", resp.StatusCode)
	}
	if len(a.signIns.fails) != 0 {
		t.Fatalf("failures kept after a sign-in: %v", a.signIns.fails)
	}
}
