package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/parleyhq/parley/internal/archive"
	"github.com/parleyhq/parley/internal/store"
)

// storagePath is a project's archive storage (OpenTok's upload target):
// the S3 bucket its finished archives are uploaded to.
const storagePath = "/v2/project/{apiKey}/archive/storage"

// storageRoutes set, show and remove a project's archive storage.
//
// They are registered on the mux directly: the method-less fallback that
// router.handle adds for a wrong method would conflict with that of
// /archive/{archiveId}, which matches this path too. The methods an API
// client may try get their 405 here; any other falls to that fallback.
func (a *API) storageRoutes(r *router) {
	r.mux.HandleFunc("GET "+storagePath, a.authed(a.getStorage))
	r.mux.HandleFunc("PUT "+storagePath, a.authed(a.putStorage))
	r.mux.HandleFunc("DELETE "+storagePath, a.authed(a.deleteStorage))
	for _, m := range []string{"POST", "PATCH"} {
		r.mux.HandleFunc(m+" "+storagePath, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", "DELETE, GET, PUT")
			WriteError(w, http.StatusMethodNotAllowed, "method not allowed; use DELETE, GET, PUT")
		})
	}
}

// storageConfig is the config object of an archive storage: what OpenTok
// takes for S3 (accessKey, secretKey, bucket, endpoint), and Parley's
// region and prefix.
type storageConfig struct {
	AccessKey string `json:"accessKey"`
	// SecretKey is taken, never shown.
	SecretKey string `json:"secretKey,omitempty"`
	Bucket    string `json:"bucket"`
	Endpoint  string `json:"endpoint"`
	Region    string `json:"region,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
}

// storageJSON is an archive storage as the API takes and shows it.
type storageJSON struct {
	Type     string        `json:"type"`
	Config   storageConfig `json:"config"`
	Fallback string        `json:"fallback"`
	// UpdatedAt is in milliseconds since the epoch; only shown.
	UpdatedAt int64 `json:"updatedAt,omitempty"`
}

func toStorageJSON(s store.ArchiveStorage) storageJSON {
	return storageJSON{
		Type: s.Type,
		Config: storageConfig{AccessKey: s.AccessKey, Bucket: s.Bucket, Endpoint: archive.StorageURL(s),
			Region: s.Region, Prefix: s.Prefix},
		Fallback:  s.Fallback,
		UpdatedAt: s.UpdatedAt.UnixMilli(),
	}
}

func (a *API) getStorage(w http.ResponseWriter, r *http.Request, p store.Project) {
	s, err := a.Store.ArchiveStorage(r.Context(), p.APIKey)
	if errors.Is(err, store.ErrNotFound) {
		WriteError(w, http.StatusNotFound, "the project has no archive storage")
		return
	}
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toStorageJSON(s))
}

// putStorage checks the storage a request describes, then tries it (a
// small object is written to the bucket and removed), and only then
// stores it: a storage that cannot take archives is refused with 400 and
// the reason, and the one set before stays.
func (a *API) putStorage(w http.ResponseWriter, r *http.Request, p store.Project) {
	var body storageJSON
	if !decodeBody(w, r, &body) {
		return
	}
	s, err := archive.StorageSpec{
		Type: body.Type, Endpoint: body.Config.Endpoint, Bucket: body.Config.Bucket,
		AccessKey: body.Config.AccessKey, SecretKey: body.Config.SecretKey,
		Region: body.Config.Region, Prefix: body.Config.Prefix, Fallback: body.Fallback,
	}.Storage(p.APIKey, a.now().Truncate(time.Millisecond))
	if err != nil {
		a.refused(w, r, err)
		return
	}
	if err := archive.CheckStorage(r.Context(), s); err != nil {
		a.refused(w, r, err)
		return
	}
	if err := a.Store.PutArchiveStorage(r.Context(), s); err != nil {
		a.internalError(w, r, err)
		return
	}
	a.Log.InfoContext(r.Context(), "archive storage set", "project", p.APIKey, "endpoint", s.Endpoint,
		"bucket", s.Bucket, "fallback", s.Fallback)
	writeJSON(w, http.StatusOK, toStorageJSON(s))
}

func (a *API) deleteStorage(w http.ResponseWriter, r *http.Request, p store.Project) {
	err := a.Store.DeleteArchiveStorage(r.Context(), p.APIKey)
	if errors.Is(err, store.ErrNotFound) {
		WriteError(w, http.StatusNotFound, "the project has no archive storage")
		return
	}
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	a.Log.InfoContext(r.Context(), "archive storage removed", "project", p.APIKey)
	w.WriteHeader(http.StatusNoContent)
}
