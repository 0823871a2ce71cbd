package live

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/parleyhq/parley/apps/pageapi"
	"github.com/parleyhq/parley/internal/store"
)

// Account limits.
const (
	MaxNameLen     = 32
	MinPasswordLen = 8
	MaxPasswordLen = 256
	cookieName     = "parley_live"
)

// argon2id parameters (RFC 9106's second recommended option scaled down
// to a shared server: 19 MiB, 2 passes, 1 lane).
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// hashPassword returns the PHC string of password under a fresh salt.
func hashPassword(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b.EncodeToString(salt), b.EncodeToString(key))
}

// checkPassword says whether password matches the PHC string hash.
func checkPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 10 || p == 0 {
		return false
	}
	b := base64.RawStdEncoding
	salt, err1 := b.DecodeString(parts[4])
	want, err2 := b.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when a name is unknown, so that an
// unknown name takes as long to refuse as a wrong password.
var dummyHash = hashPassword("not a password of anyone")

// validName checks a user name: 1 to 32 letters, digits, spaces, dots,
// dashes and underscores, not starting or ending with a space.
func validName(s string) bool {
	if s == "" || s != strings.TrimSpace(s) || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxNameLen {
		return false
	}
	for _, c := range s {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune(" ._-", c) {
			return false
		}
	}
	return true
}

type credentials struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// hash runs f while holding one of the app's hashing slots.
func (a *App) hash(r *http.Request, f func()) bool {
	select {
	case a.hashing <- struct{}{}:
	case <-r.Context().Done():
		return false
	}
	defer func() { <-a.hashing }()
	f()
	return true
}

func (a *App) signUp(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if !pageapi.ReadJSON(w, r, &c) {
		return
	}
	if !validName(c.Name) {
		pageapi.WriteError(w, http.StatusBadRequest, "a name is 1 to 32 letters, digits, spaces, dots, dashes or underscores")
		return
	}
	if len(c.Password) < MinPasswordLen || len(c.Password) > MaxPasswordLen {
		pageapi.WriteError(w, http.StatusBadRequest, fmt.Sprintf("a password is %d to %d characters", MinPasswordLen, MaxPasswordLen))
		return
	}
	var h string
	if !a.hash(r, func() { h = hashPassword(c.Password) }) {
		return
	}
	u, err := a.o.Store.CreateLiveUser(r.Context(), store.LiveUser{Name: c.Name, PasswordHash: h, CreatedAt: a.o.Now()})
	if errors.Is(err, store.ErrExists) {
		pageapi.WriteError(w, http.StatusConflict, "that name is taken; choose another")
		return
	}
	if err != nil {
		a.internal(w, "sign up", err)
		return
	}
	if !a.startLogin(w, r, u) {
		return
	}
	pageapi.WriteJSON(w, http.StatusCreated, map[string]string{"name": u.Name})
}

func (a *App) signIn(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if !pageapi.ReadJSON(w, r, &c) {
		return
	}
	if len(c.Password) > MaxPasswordLen || len(c.Name) > 4*MaxNameLen {
		pageapi.WriteError(w, http.StatusUnauthorized, "wrong name or password")
		return
	}
	if a.signIns.blocked(c.Name, a.o.Now()) {
		pageapi.WriteError(w, http.StatusTooManyRequests, "too many wrong passwords for this name; try again in a few minutes")
		return
	}
	u, err := a.o.Store.LiveUserByName(r.Context(), strings.TrimSpace(c.Name))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.internal(w, "sign in", err)
		return
	}
	ok := false
	if !a.hash(r, func() {
		if err != nil {
			checkPassword(dummyHash, c.Password)
			return
		}
		ok = checkPassword(u.PasswordHash, c.Password)
	}) {
		return
	}
	if !ok {
		a.signIns.fail(c.Name, a.o.Now())
		pageapi.WriteError(w, http.StatusUnauthorized, "wrong name or password")
		return
	}
	a.signIns.reset(c.Name)
	if !a.startLogin(w, r, u) {
		return
	}
	pageapi.WriteJSON(w, http.StatusOK, map[string]string{"name": u.Name})
}

func tokenHash(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// isHTTPS says whether the visitor's request came over HTTPS, directly or
// through a proxy that says so.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// startLogin records a new login of u and gives its token to the browser
// as a cookie.
func (a *App) startLogin(w http.ResponseWriter, r *http.Request, u store.LiveUser) bool {
	tok := rand.Text()
	now := a.o.Now()
	l := store.LiveLogin{TokenHash: tokenHash(tok), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(a.o.LoginTTL)}
	if err := a.o.Store.CreateLiveLogin(r.Context(), l); err != nil {
		a.internal(w, "sign in", err)
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", Expires: l.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(r)})
	return true
}

func (a *App) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		if err := a.o.Store.DeleteLiveLogin(r.Context(), tokenHash(c.Value)); err != nil {
			a.internal(w, "sign out", err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(r)})
	w.WriteHeader(http.StatusNoContent)
}

// user is the signed-in user of the request, if any.
func (a *App) user(r *http.Request) (store.LiveUser, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" || len(c.Value) > 64 {
		return store.LiveUser{}, false
	}
	u, err := a.o.Store.LiveLoginUser(r.Context(), tokenHash(c.Value), a.o.Now())
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			a.o.Log.Warn("live: login lookup", "err", err)
		}
		return store.LiveUser{}, false
	}
	return u, true
}

// signedIn answers 401 to a caller who is not signed in.
func (a *App) signedIn(h func(http.ResponseWriter, *http.Request, store.LiveUser)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.user(r)
		if !ok {
			pageapi.WriteError(w, http.StatusUnauthorized, "sign in first")
			return
		}
		h(w, r, u)
	}
}

func (a *App) me(w http.ResponseWriter, _ *http.Request, u store.LiveUser) {
	pageapi.WriteJSON(w, http.StatusOK, map[string]string{"name": u.Name})
}
