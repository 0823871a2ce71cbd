// Package pageapi is the JSON API the apps' pages call on their app
// server: bodies are JSON of at most MaxBody bytes, answers are JSON that
// no cache keeps and no browser sniffs, and a refusal is {"message": …}.
package pageapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// MaxBody bounds a request body.
const MaxBody = 16 << 10

// ReadJSON decodes r's JSON body into v, or answers 415, 413 or 400 and
// reports false.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt := r.Header.Get("Content-Type"); !strings.HasPrefix(mt, "application/json") {
		WriteError(w, http.StatusUnsupportedMediaType, "send JSON (Content-Type: application/json)")
		return false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		WriteError(w, http.StatusRequestEntityTooLarge, "the body is over 16 kB")
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		WriteError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	return true
}

// WriteJSON answers v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError answers {"message": msg} with status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"message": msg})
}
