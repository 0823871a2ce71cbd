package archive

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/store"
)

// DefaultURLValidity is how long a download link works: the 10 minutes
// OpenTok documents.
const DefaultURLValidity = 10 * time.Minute

// DownloadPath is where a node serves an archive's file (ext is ".zip"
// or ".mp4"); the link adds ?expires=<unix seconds>&sig=<signature>.
func DownloadPath(id, ext string) string { return "/v2/archives/" + id + ext }

// fileExt is the extension of archive a's file: an MP4 for a composed
// archive, a zip of files and manifest for an individual one.
func fileExt(a store.Archive) string {
	if a.OutputMode == OutputComposed {
		return ".mp4"
	}
	return ".zip"
}

// signer signs and checks download links: the signature is
// HMAC-SHA256(secret, "archive\n" + id + "\n" + expires), in unpadded
// base64url. A node that holds the secret checks a link without any
// state; a link cannot be moved to another archive or given a later
// expiry.
type signer struct{ secret []byte }

func (s signer) sign(id string, expires int64) string {
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte("archive\n" + id + "\n" + strconv.FormatInt(expires, 10)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// link is the signed download URL of archive id under base, valid until
// expires.
func (s signer) link(base, id, ext string, expires time.Time) string {
	exp := expires.Unix()
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "sig": {s.sign(id, exp)}}
	return strings.TrimSuffix(base, "/") + DownloadPath(id, ext) + "?" + q.Encode()
}

// check verifies a link's expiry and signature at now.
func (s signer) check(id, expires, sig string, now time.Time) error {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return refuse(ErrForbidden, "the download link has no valid expiry")
	}
	want := s.sign(id, exp)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return refuse(ErrForbidden, "the download link's signature is not valid")
	}
	if now.Unix() > exp {
		return refuse(ErrForbidden, "the download link has expired; get the archive again for a fresh one")
	}
	return nil
}

// Download checks a download link (the file name, expires and sig of its
// path and query) and opens the archive's file, <id>.zip or <id>.mp4. The
// id must be an archive id
// (a UUID), so that no request names a file outside the archive folder;
// the folder is an os.Root besides, which no path escapes. A bad or
// expired link wraps ErrForbidden, an archive with no zip ErrNotFound.
func (m *Manager) Download(file, expires, sig string) (*os.File, error) {
	id, ext := strings.CutSuffix(file, ".zip")
	if !ext {
		id, ext = strings.CutSuffix(file, ".mp4")
	}
	if !ext || !ValidID(id) {
		return nil, refuse(ErrNotFound, "archive not found")
	}
	if err := m.signer.check(id, expires, sig, m.now()); err != nil {
		return nil, err
	}
	f, err := m.root.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, refuse(ErrNotFound, "archive %s has no file to download (deleted, or not available yet)", id)
	}
	return f, err
}
