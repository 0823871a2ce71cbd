package browsersdk

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestBuildEmbedded(t *testing.T) {
	b, err := BuildEmbedded("test-version")
	if err != nil {
		t.Fatal(err)
	}
	for name, js := range map[string][]byte{"plain": b.JS, "minified": b.MinJS} {
		s := string(js)
		if !strings.Contains(s, "test-version") || !strings.Contains(s, "initSession") {
			t.Errorf("%s bundle lacks the version or initSession (%d bytes)", name, len(js))
		}
		if strings.Contains(s, "import ") && strings.Contains(s, " from \"./") {
			t.Errorf("%s bundle still has module imports", name)
		}
	}
	if len(b.MinJS) >= len(b.JS) {
		t.Errorf("minified %d bytes, plain %d", len(b.MinJS), len(b.JS))
	}
}

func TestBuildRefusesForeignImports(t *testing.T) {
	for name, src := range map[string]string{
		"bare import":     `import x from "left-pad"; window.OT = x;`,
		"syntax error":    `window.OT = {`,
		"missing module":  `import { x } from "./nope.js"; window.OT = x;`,
		"escaping import": `import { x } from "../../etc/passwd"; window.OT = x;`,
	} {
		fsys := fstest.MapFS{"index.js": {Data: []byte(src)}}
		if _, err := Build(fsys, "v"); err == nil {
			t.Errorf("%s: built", name)
		}
	}
}

func TestServe(t *testing.T) {
	b, err := Build(fstest.MapFS{"index.js": {Data: []byte(`import { v } from "./v.js"; window.OT = { v };`)}, "v.js": {Data: []byte(`export const v = 1;`)}}, "v")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	b.Routes(mux)
	LoggingRoutes(mux)
	for _, path := range []string{"/v2/js/opentok.js", "/v2/js/opentok.min.js"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") || w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s: %d %v", path, w.Code, w.Header())
		}
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("If-None-Match", w.Header().Get("ETag"))
		w2 := httptest.NewRecorder()
		mux.ServeHTTP(w2, r)
		if w2.Code != http.StatusNotModified {
			t.Fatalf("%s with its ETag: %d", path, w2.Code)
		}
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("POST", "/logging/ClientEvent", strings.NewReader(`{"action":"x"}`)))
	if w.Code != 200 {
		t.Fatalf("ClientEvent: %d", w.Code)
	}
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("OPTIONS", "/logging/ClientEvent", nil))
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("ClientEvent preflight: %d %v", w.Code, w.Header())
	}
}
