package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/parleyhq/parley/internal/store"
)

// Archive storage (OpenTok's upload target): a project may name a bucket
// of an S3-compatible store; each of its finished archives is then
// uploaded there, where OpenTok puts it, and leaves Parley's archive
// folder:
//
//	[prefix/]<apiKey>/<archiveId>/archive.mp4   composed
//	[prefix/]<apiKey>/<archiveId>/archive.zip   individual
//
// An uploaded archive's status is "uploaded". When the upload fails, the
// storage's fallback decides: "opentok" keeps the archive available from
// the archive folder, "none" marks it failed.

// Storage types and fallbacks, in OpenTok's words.
const (
	StorageS3       = "s3"
	FallbackNone    = "none"
	FallbackOpenTok = "opentok"
)

// Bounds of the calls to a storage: a store that stops answering must not
// hold an archive, or a request, forever.
const (
	uploadTimeout = 10 * time.Minute
	removeTimeout = 30 * time.Second
	checkTimeout  = 30 * time.Second
)

// defaultEndpoint is Amazon S3's, for a storage that names no endpoint.
const defaultEndpoint = "s3.amazonaws.com"

// StorageSpec is an archive storage as a request describes it, before it
// is checked.
type StorageSpec struct {
	// Type is "s3"; "azure", OpenTok's other kind, is refused.
	Type string
	// Endpoint is "host[:port]" (reached over HTTPS), or a URL with the
	// scheme http or https and no path; "" means Amazon S3.
	Endpoint  string
	Bucket    string
	AccessKey string
	SecretKey string
	// Region is the bucket's; "" lets the store say.
	Region string
	// Prefix, when not "", goes before every object name, as a folder.
	Prefix string
	// Fallback is "none" (the default) or "opentok".
	Fallback string
}

var (
	regionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	hostPattern   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
)

// Storage checks sp and returns the archive storage of project apiKey it
// describes, updated at now. What is wrong is a refusal of kind
// ErrInvalid that says which field and why.
func (sp StorageSpec) Storage(apiKey string, now time.Time) (store.ArchiveStorage, error) {
	s, err := sp.storage(apiKey, now)
	if err != nil {
		// Nothing of a refused storage, its keys least of all, goes on.
		return store.ArchiveStorage{}, err
	}
	return s, nil
}

func (sp StorageSpec) storage(apiKey string, now time.Time) (store.ArchiveStorage, error) {
	s := store.ArchiveStorage{APIKey: apiKey, Type: strings.ToLower(strings.TrimSpace(sp.Type)),
		Bucket: sp.Bucket, AccessKey: sp.AccessKey, SecretKey: sp.SecretKey, Region: sp.Region,
		Fallback: strings.ToLower(strings.TrimSpace(sp.Fallback)), UpdatedAt: now}
	switch s.Type {
	case StorageS3:
	case "":
		return s, refuse(ErrInvalid, "type is required: s3")
	case "azure":
		return s, refuse(ErrInvalid, "type azure is not supported: use s3 (any S3-compatible store)")
	default:
		return s, refuse(ErrInvalid, "type %q is not supported: use s3", clip(sp.Type))
	}
	var err error
	if s.Endpoint, s.Secure, err = parseEndpoint(sp.Endpoint); err != nil {
		return s, refuse(ErrInvalid, "endpoint: %v", err)
	}
	if err := s3utils.CheckValidBucketName(s.Bucket); err != nil {
		return s, refuse(ErrInvalid, "bucket %q: %s", clip(s.Bucket), strings.ToLower(err.Error()))
	}
	for _, f := range []struct{ name, v string }{{"accessKey", s.AccessKey}, {"secretKey", s.SecretKey}} {
		switch {
		case f.v == "":
			return s, refuse(ErrInvalid, "%s is required", f.name)
		case len(f.v) > 256:
			return s, refuse(ErrInvalid, "%s is longer than 256 characters", f.name)
		case strings.IndexFunc(f.v, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
			// They go into request headers: no spaces, no control
			// characters. The value itself is never repeated back.
			return s, refuse(ErrInvalid, "%s may only hold printable ASCII characters without spaces", f.name)
		}
	}
	if s.Region != "" && !regionPattern.MatchString(s.Region) {
		return s, refuse(ErrInvalid, "region %q: letters, digits, '.', '_' and '-', at most 64", clip(s.Region))
	}
	if s.Prefix, err = parsePrefix(sp.Prefix); err != nil {
		return s, refuse(ErrInvalid, "prefix: %v", err)
	}
	switch s.Fallback {
	case "":
		s.Fallback = FallbackNone
	case FallbackNone, FallbackOpenTok:
	default:
		return s, refuse(ErrInvalid, "fallback %q: want none or opentok", clip(sp.Fallback))
	}
	return s, nil
}

// parseEndpoint turns "host[:port]" or "http(s)://host[:port]" into the
// host and port, and whether to use HTTPS.
func parseEndpoint(raw string) (hostPort string, secure bool, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return defaultEndpoint, true, nil
	}
	if len(raw) > 300 {
		return "", false, errors.New("longer than 300 characters")
	}
	secure = true
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		switch strings.ToLower(scheme) {
		case "https":
		case "http":
			secure = false
		default:
			return "", false, fmt.Errorf("scheme %q: want http or https", clip(scheme))
		}
		raw = strings.TrimSuffix(rest, "/")
	}
	if strings.ContainsAny(raw, "/?#@\\ ") {
		return "", false, fmt.Errorf("%q: want host[:port] or http(s)://host[:port], without a path or credentials", clip(raw))
	}
	host, port := raw, ""
	if h, p, err := net.SplitHostPort(raw); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(raw, "[") && strings.HasSuffix(raw, "]") {
		host = raw[1 : len(raw)-1] // an IPv6 address without a port
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", false, fmt.Errorf("port %q: want 1 to 65535", clip(port))
		}
	}
	switch ip := net.ParseIP(host); {
	case ip != nil && ip.To4() == nil && !strings.HasPrefix(raw, "["):
		return "", false, fmt.Errorf("%q: an IPv6 address goes in brackets, as in [::1]:9000", clip(raw))
	case ip == nil && !hostPattern.MatchString(host):
		return "", false, fmt.Errorf("host %q is not a host name or an IP address", clip(host))
	}
	return strings.ToLower(raw), secure, nil
}

// parsePrefix checks an object name prefix and returns it without
// leading or trailing slashes.
func parsePrefix(raw string) (string, error) {
	p := strings.Trim(raw, "/")
	if p == "" {
		return "", nil
	}
	if len(p) > 256 {
		return "", errors.New("longer than 256 characters")
	}
	if strings.IndexFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\\' }) >= 0 {
		return "", errors.New("control characters and backslashes are not allowed")
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%q: empty, '.' and '..' folders are not allowed", clip(raw))
		}
	}
	return p, nil
}

// StorageURL returns the endpoint of s as a URL, as a caller may give it
// back: "https://host[:port]" or "http://host[:port]".
func StorageURL(s store.ArchiveStorage) string {
	if s.Secure {
		return "https://" + s.Endpoint
	}
	return "http://" + s.Endpoint
}

// CheckStorage makes sure archives can be uploaded to s: its bucket
// exists and its credentials may write there. It writes a small object
// next to where the project's archives will go, then removes it (when
// the credentials may only write, the object stays). A failure is a
// refusal of kind ErrInvalid that says why, in a few words.
func CheckStorage(ctx context.Context, s store.ArchiveStorage) error {
	t, err := newS3Target(s)
	if err != nil {
		return refuse(ErrInvalid, "%v", err)
	}
	defer t.close()
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if err := t.check(cctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return refuse(ErrInvalid, "the archive storage cannot be used: %s", t.reason(err))
	}
	return nil
}

// s3Target is a project's bucket, as the archives of the project go
// there. Each use makes one and closes it.
type s3Target struct {
	client   *minio.Client
	tr       *http.Transport
	apiKey   string
	endpoint string
	bucket   string
	prefix   string
}

func newS3Target(s store.ArchiveStorage) (*s3Target, error) {
	if s.Type != StorageS3 {
		return nil, fmt.Errorf("archive storage type %q is not supported", s.Type)
	}
	tr, err := minio.DefaultTransport(s.Secure)
	if err != nil {
		return nil, err
	}
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: s.Secure,
		Region: s.Region, Transport: tr,
		// A few quick retries for a store that blinks; the timeouts bound
		// the rest.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("archive storage %s: %w", s.Endpoint, err)
	}
	return &s3Target{client: c, tr: tr, apiKey: s.APIKey, endpoint: s.Endpoint, bucket: s.Bucket, prefix: s.Prefix}, nil
}

// close drops the target's idle connections, and with them their
// goroutines.
func (t *s3Target) close() { t.tr.CloseIdleConnections() }

// objectName is where archive a of the target's project goes.
func (t *s3Target) objectName(a store.Archive) string {
	return t.join(t.apiKey + "/" + a.ID + "/archive" + fileExt(a))
}

func (t *s3Target) join(name string) string {
	if t.prefix == "" {
		return name
	}
	return t.prefix + "/" + name
}

// contentType is the media type of archive a's file.
func contentType(a store.Archive) string {
	if fileExt(a) == ".mp4" {
		return "video/mp4"
	}
	return "application/zip"
}

// upload writes size bytes of r to object name.
func (t *s3Target) upload(ctx context.Context, name string, r io.Reader, size int64, contentType string) error {
	info, err := t.client.PutObject(ctx, t.bucket, name, r, size, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return err
	}
	if info.Size != size {
		return fmt.Errorf("the store took %d of %d bytes", info.Size, size)
	}
	return nil
}

// remove deletes object name; one that is not there is not an error.
func (t *s3Target) remove(ctx context.Context, name string) error {
	err := t.client.RemoveObject(ctx, t.bucket, name, minio.RemoveObjectOptions{})
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NoSuchBucket":
		return nil
	}
	return err
}

// checkObject is what check writes.
const checkObject = "parley-storage-check"

// check writes a small object where the project's archives will go and
// removes it. Writing proves both that the bucket exists and that the
// credentials may write; removing is not asked of them.
func (t *s3Target) check(ctx context.Context) error {
	const body = "Parley checked that it can upload archives here. This object can be deleted.\n"
	name := t.join(t.apiKey + "/" + checkObject)
	if err := t.upload(ctx, name, strings.NewReader(body), int64(len(body)), "text/plain"); err != nil {
		return err
	}
	_ = t.remove(ctx, name)
	return nil
}

// reason says in a few words why a call to the target failed, for an
// archive's reason, a log or an answer. It never holds the credentials.
func (t *s3Target) reason(err error) string {
	var resp minio.ErrorResponse
	var urlErr *url.Error
	var netErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "the store at " + t.endpoint + " did not answer in time"
	case errors.As(err, &resp) && resp.Code != "":
		switch resp.Code {
		case "NoSuchBucket":
			return fmt.Sprintf("bucket %q does not exist", t.bucket)
		case "AccessDenied":
			return fmt.Sprintf("access denied to bucket %q", t.bucket)
		case "InvalidAccessKeyId":
			return "the store does not know the access key"
		case "SignatureDoesNotMatch":
			return "the secret key does not match the access key"
		}
		if resp.Message != "" {
			return clip(resp.Code + ": " + resp.Message)
		}
		return clip(resp.Code)
	case errors.As(err, &dnsErr):
		return clip("cannot find the host " + dnsErr.Name)
	case errors.As(err, &netErr):
		return clip("cannot reach " + t.endpoint + ": " + netErr.Err.Error())
	case errors.As(err, &urlErr):
		return clip("cannot reach " + t.endpoint + ": " + urlErr.Err.Error())
	}
	return clip(err.Error())
}

// clip shortens what goes back into a message.
func clip(s string) string {
	const limit = 160
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "…"
}

// deliver uploads archive a, available with its file named file in the
// archive folder, to its project's archive storage, and returns it as it
// now is:
//
//   - the project has no storage, or a is not available: a, unchanged;
//   - uploaded: status "uploaded", its local file removed;
//   - the upload failed, fallback "opentok": a, unchanged (available from
//     the archive folder), and a warning in the log;
//   - the upload failed, fallback "none": status "failed", reason "upload
//     failed: <why>", size 0, its local file removed.
//
// When ctx ends first (the node shuts down), a comes back unchanged with
// its file kept, and ctx.Err() says so: the caller may leave the archive
// to be delivered at the next start. An upload takes at most
// uploadTimeout. The caller (settle, once the file is written) records
// what comes back and tells of the change; deliver itself stores nothing.
func (m *Manager) deliver(ctx context.Context, a store.Archive, file string) store.Archive {
	if a.Status != StatusAvailable {
		return a
	}
	s, err := m.cfg.Store.ArchiveStorage(ctx, a.APIKey)
	if errors.Is(err, store.ErrNotFound) {
		return a
	}
	if err != nil {
		m.log.Error("archive: reading the project's archive storage; the archive stays available here",
			"archive", a.ID, "err", err)
		return a
	}
	t, err := newS3Target(s)
	if err != nil {
		return m.undelivered(s, a, file, err.Error())
	}
	defer t.close()
	name := t.objectName(a)
	log := m.log.With("archive", a.ID, "endpoint", s.Endpoint, "bucket", s.Bucket, "object", name)
	if err := m.uploadFile(ctx, t, name, file, contentType(a)); err != nil {
		if ctx.Err() != nil {
			log.Info("archive: upload interrupted; the archive stays available here", "err", ctx.Err())
			return a
		}
		return m.undelivered(s, a, file, t.reason(err))
	}
	if err := m.root.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("archive: uploaded, but its local file could not be removed", "err", err)
	}
	a.Status, a.Reason, a.UpdatedAt = StatusUploaded, "", m.now()
	log.Info("archive uploaded", "bytes", a.Size)
	return a
}

// uploadFile uploads file of the archive folder to object name.
func (m *Manager) uploadFile(ctx context.Context, t *s3Target, name, file, contentType string) error {
	f, err := m.root.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", file)
	}
	ctx, cancel := context.WithTimeout(ctx, uploadTimeout)
	defer cancel()
	return t.upload(ctx, name, f, st.Size(), contentType)
}

// undelivered applies s's fallback to archive a, whose upload failed for
// why.
func (m *Manager) undelivered(s store.ArchiveStorage, a store.Archive, file, why string) store.Archive {
	log := m.log.With("archive", a.ID, "endpoint", s.Endpoint, "bucket", s.Bucket, "reason", why)
	if s.Fallback == FallbackOpenTok {
		log.Warn("archive upload failed; it stays available here (fallback opentok)")
		return a
	}
	log.Warn("archive upload failed; the archive fails (fallback none)")
	if err := m.root.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("archive: removing the local file of a failed upload", "err", err)
	}
	a.Status, a.Reason, a.Size, a.UpdatedAt = StatusFailed, "upload failed: "+why, 0, m.now()
	return a
}

// removeUploaded deletes the object of archive a from its project's
// archive storage when a is uploaded; for any other status it does
// nothing. An object that is not there is not an error, and neither is a
// project that no longer has a storage (the object is then left where it
// is, and the log says so). It takes at most removeTimeout. The caller
// (Delete) calls it before it deletes the archive's record, so that a
// failure leaves a record to delete again.
func (m *Manager) removeUploaded(ctx context.Context, a store.Archive) error {
	if a.Status != StatusUploaded {
		return nil
	}
	s, err := m.cfg.Store.ArchiveStorage(ctx, a.APIKey)
	if errors.Is(err, store.ErrNotFound) {
		m.log.Warn("archive: the project has no archive storage any more; its uploaded object stays where it is", "archive", a.ID)
		return nil
	}
	if err != nil {
		return err
	}
	t, err := newS3Target(s)
	if err != nil {
		return err
	}
	defer t.close()
	ctx, cancel := context.WithTimeout(ctx, removeTimeout)
	defer cancel()
	name := t.objectName(a)
	if err := t.remove(ctx, name); err != nil {
		return fmt.Errorf("archive %s: removing %s from bucket %s: %s", a.ID, name, s.Bucket, t.reason(err))
	}
	m.log.Info("archive removed from its storage", "archive", a.ID, "endpoint", s.Endpoint, "bucket", s.Bucket, "object", name)
	return nil
}
