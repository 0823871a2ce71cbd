// Package browsersdk builds the browser SDK from the embedded sources in
// client/src with esbuild (no Node.js needed) and serves it where
// OpenTok.js applications load it from: /v2/js/opentok.js and
// /v2/js/opentok.min.js.
package browsersdk

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/parleyhq/parley/client"
)

// Bundle is a built SDK.
type Bundle struct {
	JS, MinJS []byte
	etag      string
}

// Build bundles src (a file system whose root holds index.js) into one
// script that defines the global OT, readable and minified.
func Build(src fs.FS, version string) (*Bundle, error) {
	plain, err := build(src, version, false)
	if err != nil {
		return nil, err
	}
	min, err := build(src, version, true)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append(append([]byte{}, plain...), min...))
	return &Bundle{JS: plain, MinJS: min, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}, nil
}

// BuildEmbedded bundles the sources compiled into the binary.
func BuildEmbedded(version string) (*Bundle, error) {
	src, err := fs.Sub(client.Sources, "src")
	if err != nil {
		return nil, err
	}
	return Build(src, version)
}

func build(src fs.FS, version string, minify bool) ([]byte, error) {
	res := api.Build(api.BuildOptions{
		EntryPoints:       []string{"index.js"},
		Bundle:            true,
		Write:             false,
		Format:            api.FormatIIFE,
		Target:            api.ES2020,
		Charset:           api.CharsetUTF8,
		LegalComments:     api.LegalCommentsNone,
		MinifyWhitespace:  minify,
		MinifyIdentifiers: minify,
		MinifySyntax:      minify,
		Define:            map[string]string{"__PARLEY_VERSION__": fmt.Sprintf("%q", version)},
		Banner:            map[string]string{"js": "/* Parley browser SDK " + version + ": the OpenTok.js API */"},
		Plugins:           []api.Plugin{fsPlugin(src)},
		LogLevel:          api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		var msgs []string
		for _, e := range res.Errors {
			loc := ""
			if e.Location != nil {
				loc = fmt.Sprintf("%s:%d:%d: ", e.Location.File, e.Location.Line, e.Location.Column)
			}
			msgs = append(msgs, loc+e.Text)
		}
		return nil, errors.New("browser SDK build: " + strings.Join(msgs, "; "))
	}
	if len(res.OutputFiles) != 1 {
		return nil, fmt.Errorf("browser SDK build: %d output files", len(res.OutputFiles))
	}
	return res.OutputFiles[0].Contents, nil
}

// fsPlugin makes esbuild read modules from src instead of the disk:
// relative imports resolve inside it, nothing else is allowed.
func fsPlugin(src fs.FS) api.Plugin {
	return api.Plugin{Name: "embedded", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			p := a.Path
			if a.Kind != api.ResolveEntryPoint {
				if !strings.HasPrefix(p, "./") && !strings.HasPrefix(p, "../") {
					return api.OnResolveResult{}, fmt.Errorf("import %q: only relative imports of the SDK's own modules are allowed", p)
				}
				p = path.Join(path.Dir(a.Importer), p)
			}
			p = path.Clean(strings.TrimPrefix(p, "/"))
			if !strings.HasSuffix(p, ".js") {
				p += ".js"
			}
			return api.OnResolveResult{Path: "/" + p, Namespace: "sdk"}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: "sdk"}, func(a api.OnLoadArgs) (api.OnLoadResult, error) {
			data, err := fs.ReadFile(src, strings.TrimPrefix(a.Path, "/"))
			if err != nil {
				return api.OnLoadResult{}, err
			}
			s := string(data)
			return api.OnLoadResult{Contents: &s, Loader: api.LoaderJS}, nil
		})
	}}
}

// Routes serves the bundle.
func (b *Bundle) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v2/js/opentok.js", b.serve(b.JS))
	mux.HandleFunc("GET /v2/js/opentok.min.js", b.serve(b.MinJS))
}

func (b *Bundle) serve(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		// Pages of any origin load the SDK, sometimes with crossorigin set.
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("ETag", b.etag)
		if r.Header.Get("If-None-Match") == b.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(body)
	}
}

// LoggingRoutes answers POST /logging/ClientEvent, where OpenTok.js and
// libraries built on it post client-side analytics. Parley keeps no such
// analytics; answering 200 keeps those libraries from retrying or
// failing. Pages of any origin post there, so CORS preflights are
// answered too.
func LoggingRoutes(mux *http.ServeMux) {
	cors := func(h http.Header) {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", "86400")
	}
	for _, p := range []string{"/logging/ClientEvent", "/logging/ClientQos"} {
		mux.HandleFunc("POST "+p, func(w http.ResponseWriter, r *http.Request) {
			cors(w.Header())
			_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 64<<10))
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte("{}"))
		})
		mux.HandleFunc("OPTIONS "+p, func(w http.ResponseWriter, r *http.Request) {
			cors(w.Header())
			w.WriteHeader(http.StatusNoContent)
		})
	}
}
