package archive

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"

	"github.com/parleyhq/parley/internal/archive/s3test"
	"github.com/parleyhq/parley/internal/store"
)

func TestStorageSpec(t *testing.T) {
	now := time.UnixMilli(1700000000000)
	good := StorageSpec{Type: "s3", Endpoint: "https://s3.example.com", Bucket: "recordings", AccessKey: "AKIAEXAMPLE",
		SecretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	got, err := good.Storage("42", now)
	want := store.ArchiveStorage{APIKey: "42", Type: "s3", Endpoint: "s3.example.com", Secure: true, Bucket: "recordings",
		AccessKey: good.AccessKey, SecretKey: good.SecretKey, Fallback: FallbackNone, UpdatedAt: now}
	if err != nil || got != want {
		t.Fatalf("Storage = %+v, %v\nwant %+v", got, err, want)
	}

	accepted := []struct {
		name   string
		change func(*StorageSpec)
		check  func(store.ArchiveStorage) bool
	}{
		{"no endpoint is Amazon S3", func(s *StorageSpec) { s.Endpoint = "" },
			func(s store.ArchiveStorage) bool { return s.Endpoint == "s3.amazonaws.com" && s.Secure }},
		{"host and port is HTTPS", func(s *StorageSpec) { s.Endpoint = "minio.internal:9000" },
			func(s store.ArchiveStorage) bool { return s.Endpoint == "minio.internal:9000" && s.Secure }},
		{"http URL", func(s *StorageSpec) { s.Endpoint = "HTTP://127.0.0.1:7070/" },
			func(s store.ArchiveStorage) bool { return s.Endpoint == "127.0.0.1:7070" && !s.Secure }},
		{"IPv6", func(s *StorageSpec) { s.Endpoint = "http://[::1]:7070" },
			func(s store.ArchiveStorage) bool { return s.Endpoint == "[::1]:7070" }},
		{"fallback opentok", func(s *StorageSpec) { s.Fallback = "OpenTok" },
			func(s store.ArchiveStorage) bool { return s.Fallback == FallbackOpenTok }},
		{"prefix and region", func(s *StorageSpec) { s.Prefix, s.Region = "/parley/archives/", "eu-west-3" },
			func(s store.ArchiveStorage) bool { return s.Prefix == "parley/archives" && s.Region == "eu-west-3" }},
	}
	for _, tt := range accepted {
		sp := good
		tt.change(&sp)
		s, err := sp.Storage("42", now)
		if err != nil || !tt.check(s) {
			t.Errorf("%s: %+v, %v", tt.name, s, err)
		}
	}

	refused := []struct {
		name   string
		change func(*StorageSpec)
		want   string
	}{
		{"no type", func(s *StorageSpec) { s.Type = "" }, "type is required"},
		{"azure", func(s *StorageSpec) { s.Type = "azure" }, "not supported"},
		{"unknown type", func(s *StorageSpec) { s.Type = "gcs" }, "not supported"},
		{"ftp", func(s *StorageSpec) { s.Endpoint = "ftp://s3.example.com" }, "http or https"},
		{"a path", func(s *StorageSpec) { s.Endpoint = "https://s3.example.com/bucket" }, "without a path"},
		{"credentials in the URL", func(s *StorageSpec) { s.Endpoint = "https://user:pw@s3.example.com" }, "without a path or credentials"},
		{"a query", func(s *StorageSpec) { s.Endpoint = "s3.example.com?x=1" }, "without a path"},
		{"port 0", func(s *StorageSpec) { s.Endpoint = "s3.example.com:0" }, "port"},
		{"port too big", func(s *StorageSpec) { s.Endpoint = "s3.example.com:70000" }, "port"},
		{"bad host", func(s *StorageSpec) { s.Endpoint = "s3_example!.com" }, "not a host name"},
		{"bare IPv6", func(s *StorageSpec) { s.Endpoint = "::1" }, "brackets"},
		{"no bucket", func(s *StorageSpec) { s.Bucket = "" }, "bucket"},
		{"short bucket", func(s *StorageSpec) { s.Bucket = "ab" }, "bucket"},
		{"bucket with a slash", func(s *StorageSpec) { s.Bucket = "a/../b" }, "bucket"},
		{"no access key", func(s *StorageSpec) { s.AccessKey = "" }, "accessKey is required"},
		{"no secret key", func(s *StorageSpec) { s.SecretKey = "" }, "secretKey is required"},
		{"secret with a newline", func(s *StorageSpec) { s.SecretKey = "abc\r\nX-Evil: 1" }, "secretKey may only"},
		{"huge access key", func(s *StorageSpec) { s.AccessKey = strings.Repeat("a", 300) }, "longer"},
		{"bad region", func(s *StorageSpec) { s.Region = "eu west" }, "region"},
		{"prefix going up", func(s *StorageSpec) { s.Prefix = "a/../../b" }, "prefix"},
		{"prefix with an empty folder", func(s *StorageSpec) { s.Prefix = "a//b" }, "prefix"},
		{"prefix with a control character", func(s *StorageSpec) { s.Prefix = "a\x00b" }, "prefix"},
		{"unknown fallback", func(s *StorageSpec) { s.Fallback = "local" }, "fallback"},
	}
	for _, tt := range refused {
		sp := good
		tt.change(&sp)
		_, err := sp.Storage("42", now)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrInvalid with %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), good.SecretKey) {
			t.Errorf("%s: the error repeats the secret key: %v", tt.name, err)
		}
	}
}

// storageOf returns the archive storage of project apiKey on srv's
// bucket.
func storageOf(t *testing.T, srv *s3test.Server, bucket, fallback string) store.ArchiveStorage {
	t.Helper()
	s, err := StorageSpec{Type: "s3", Endpoint: "http://" + srv.Endpoint, Bucket: bucket, AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, Fallback: fallback}.Storage(apiKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestS3Target(t *testing.T) {
	srv := s3test.Start(t)
	srv.MakeBucket("archives")
	ctx := context.Background()
	s := storageOf(t, srv, "archives", FallbackNone)
	s.Prefix = "team/a"
	tg, err := newS3Target(s)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.close()

	id := uuid.NewString()
	if got := tg.objectName(store.Archive{ID: id, OutputMode: OutputIndividual}); got != "team/a/42/"+id+"/archive.zip" {
		t.Errorf("individual object name %q", got)
	}
	name := tg.objectName(store.Archive{ID: id, OutputMode: OutputComposed})
	if name != "team/a/42/"+id+"/archive.mp4" {
		t.Errorf("composed object name %q", name)
	}

	// Larger than a part, so that the upload is a multipart one.
	body := randomBytes(t, 17<<20)
	if err := tg.upload(ctx, name, bytes.NewReader(body), int64(len(body)), "video/mp4"); err != nil {
		t.Fatal(err)
	}
	got, err := srv.Object("archives", name)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("uploaded object: %d bytes, %v; want %d bytes", len(got), err, len(body))
	}
	info, err := srv.Client().StatObject(ctx, "archives", name, minio.StatObjectOptions{})
	if err != nil || info.ContentType != "video/mp4" {
		t.Errorf("object type %q, %v", info.ContentType, err)
	}
	if err := tg.remove(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Object("archives", name); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("after remove: %v", err)
	}
	if err := tg.remove(ctx, name); err != nil {
		t.Errorf("removing an object that is gone: %v", err)
	}
}

func TestCheckStorage(t *testing.T) {
	srv := s3test.Start(t)
	srv.MakeBucket("archives")
	ctx := context.Background()
	good := storageOf(t, srv, "archives", FallbackNone)
	if err := CheckStorage(ctx, good); err != nil {
		t.Fatal(err)
	}
	// The check leaves nothing behind.
	if _, err := srv.Object("archives", apiKey+"/"+checkObject); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Errorf("check object left: %v", err)
	}

	closed := freePort(t)
	for _, tt := range []struct {
		name   string
		change func(*store.ArchiveStorage)
		want   string
	}{
		{"wrong secret", func(s *store.ArchiveStorage) { s.SecretKey = "not-the-secret-key" }, "secret key does not match"},
		{"unknown access key", func(s *store.ArchiveStorage) { s.AccessKey = "nobody" }, "access key"},
		{"no such bucket", func(s *store.ArchiveStorage) { s.Bucket = "elsewhere" }, `bucket "elsewhere" does not exist`},
		{"nobody listening", func(s *store.ArchiveStorage) { s.Endpoint = closed }, "cannot reach " + closed},
		{"HTTPS to a plain HTTP server", func(s *store.ArchiveStorage) { s.Secure = true }, "cannot reach"},
	} {
		s := good
		tt.change(&s)
		err := CheckStorage(ctx, s)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrInvalid with %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), good.SecretKey) {
			t.Errorf("%s: the error shows the secret key: %v", tt.name, err)
		}
	}
}

// freePort returns a loopback address nobody listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// logBuffer collects a Manager's log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestDeliver(t *testing.T) {
	srv := s3test.Start(t)
	srv.MakeBucket("archives")
	logs := &logBuffer{}
	e := newEnv(t, func(c *Config) {
		c.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := context.Background()
	good := storageOf(t, srv, "archives", FallbackNone)

	// finished writes the file of a new available archive.
	finished := func(outputMode string) (store.Archive, string, []byte) {
		t.Helper()
		a := store.Archive{ID: uuid.NewString(), APIKey: apiKey, SessionID: "1_s", Status: StatusAvailable,
			OutputMode: outputMode, StreamMode: StreamModeAuto, HasAudio: true, HasVideo: true}
		body := randomBytes(t, 64<<10)
		a.Size = int64(len(body))
		file := a.ID + fileExt(a)
		if err := os.WriteFile(filepath.Join(e.dir, file), body, 0o640); err != nil {
			t.Fatal(err)
		}
		return a, file, body
	}
	localFile := func(file string) bool {
		_, err := os.Stat(filepath.Join(e.dir, file))
		return err == nil
	}
	setStorage := func(s store.ArchiveStorage) {
		t.Helper()
		if err := e.st.PutArchiveStorage(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("no storage", func(t *testing.T) {
		a, file, _ := finished(OutputIndividual)
		if got := e.m.deliver(ctx, a, file); got.Status != StatusAvailable || !localFile(file) {
			t.Fatalf("without a storage: %+v", got)
		}
	})

	t.Run("uploaded", func(t *testing.T) {
		setStorage(good)
		for _, mode := range []string{OutputIndividual, OutputComposed} {
			a, file, body := finished(mode)
			got := e.m.deliver(ctx, a, file)
			if got.Status != StatusUploaded || got.Reason != "" || got.Size != a.Size || !got.UpdatedAt.After(a.UpdatedAt) {
				t.Fatalf("%s: %+v", mode, got)
			}
			if localFile(file) {
				t.Errorf("%s: the local file stays after the upload", mode)
			}
			name := apiKey + "/" + a.ID + "/archive" + fileExt(a)
			obj, err := srv.Object("archives", name)
			if err != nil || !bytes.Equal(obj, body) {
				t.Fatalf("%s: object %s: %d bytes, %v", mode, name, len(obj), err)
			}
			if e.m.URL(got, "http://x") != "" {
				t.Errorf("%s: an uploaded archive has a download link", mode)
			}

			// Deleting it removes the object; a second time finds none
			// and is content.
			if err := e.m.removeUploaded(ctx, got); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Object("archives", name); minio.ToErrorResponse(err).Code != "NoSuchKey" {
				t.Errorf("%s: object after removeUploaded: %v", mode, err)
			}
			if err := e.m.removeUploaded(ctx, got); err != nil {
				t.Errorf("%s: second removeUploaded: %v", mode, err)
			}
		}
	})

	t.Run("not available", func(t *testing.T) {
		setStorage(good)
		a, file, _ := finished(OutputIndividual)
		a.Status = StatusFailed
		if got := e.m.deliver(ctx, a, file); got.Status != StatusFailed || !localFile(file) {
			t.Fatalf("a failed archive was delivered: %+v", got)
		}
		// Only an uploaded archive has an object to remove.
		if err := e.m.removeUploaded(ctx, a); err != nil {
			t.Fatal(err)
		}
	})

	wrong := good
	wrong.SecretKey = "not-the-secret-key"
	t.Run("fallback none", func(t *testing.T) {
		setStorage(wrong)
		a, file, _ := finished(OutputIndividual)
		got := e.m.deliver(ctx, a, file)
		if got.Status != StatusFailed || got.Reason != "upload failed: the secret key does not match the access key" || got.Size != 0 {
			t.Fatalf("wrong credentials, fallback none: %+v", got)
		}
		if localFile(file) {
			t.Error("the local file of a failed upload stays")
		}
	})

	t.Run("fallback opentok", func(t *testing.T) {
		ws := wrong
		ws.Fallback = FallbackOpenTok
		setStorage(ws)
		a, file, body := finished(OutputComposed)
		got := e.m.deliver(ctx, a, file)
		if !reflect.DeepEqual(got, a) || !localFile(file) {
			t.Fatalf("wrong credentials, fallback opentok: %+v", got)
		}
		if b, _ := os.ReadFile(filepath.Join(e.dir, file)); !bytes.Equal(b, body) {
			t.Error("the local file changed")
		}
		// A missing bucket falls back the same way.
		nb := good
		nb.Bucket, nb.Fallback = "gone-bucket", FallbackOpenTok
		setStorage(nb)
		if got := e.m.deliver(ctx, a, file); !reflect.DeepEqual(got, a) || !localFile(file) {
			t.Fatalf("no bucket, fallback opentok: %+v", got)
		}
	})

	t.Run("shutdown", func(t *testing.T) {
		setStorage(good)
		a, file, _ := finished(OutputIndividual)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if got := e.m.deliver(cctx, a, file); !reflect.DeepEqual(got, a) || !localFile(file) {
			t.Fatalf("delivered after its context ended: %+v", got)
		}
	})

	t.Run("storage removed", func(t *testing.T) {
		setStorage(good)
		a, file, _ := finished(OutputIndividual)
		up := e.m.deliver(ctx, a, file)
		if up.Status != StatusUploaded {
			t.Fatalf("%+v", up)
		}
		if err := e.st.DeleteArchiveStorage(ctx, apiKey); err != nil {
			t.Fatal(err)
		}
		if err := e.m.removeUploaded(ctx, up); err != nil {
			t.Fatalf("removeUploaded without a storage: %v", err)
		}
	})

	if strings.Contains(logs.String(), good.SecretKey) || strings.Contains(logs.String(), wrong.SecretKey) {
		t.Errorf("a secret key is in the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "fallback opentok") {
		t.Errorf("no warning of the failed upload in the log:\n%s", logs)
	}
}

// FuzzStorageSpec feeds hostile endpoints, buckets and prefixes to the
// checks: what they take parses again to itself and names objects only
// under the project's folder.
func FuzzStorageSpec(f *testing.F) {
	f.Add("https://s3.example.com", "recordings", "parley/a", "none")
	f.Add("127.0.0.1:7070", "a.b-c", "", "opentok")
	f.Add("http://[::1]:9000/", "bucket", "/x/", "")
	f.Add("s3.example.com/../x", "..", "a/../b", "OPENTOK")
	f.Fuzz(func(t *testing.T, endpoint, bucket, prefix, fallback string) {
		sp := StorageSpec{Type: "s3", Endpoint: endpoint, Bucket: bucket, AccessKey: "a", SecretKey: "s",
			Prefix: prefix, Fallback: fallback}
		s, err := sp.Storage("42", time.Time{})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v is not a refusal", err)
			}
			return
		}
		again := sp
		again.Endpoint, again.Prefix = StorageURL(s), s.Prefix
		s2, err := again.Storage("42", time.Time{})
		if err != nil || s2 != s {
			t.Fatalf("%+v does not parse again to itself: %+v, %v", s, s2, err)
		}
		if s.Fallback != FallbackNone && s.Fallback != FallbackOpenTok {
			t.Fatalf("fallback %q", s.Fallback)
		}
		tg, err := newS3Target(s)
		if err != nil {
			t.Fatalf("target of a valid storage: %v", err)
		}
		defer tg.close()
		name := tg.objectName(store.Archive{ID: "0b8f5c0e-9f3c-4d3e-8a2b-1c2d3e4f5a6b", OutputMode: OutputIndividual})
		want := "42/0b8f5c0e-9f3c-4d3e-8a2b-1c2d3e4f5a6b/archive.zip"
		if !strings.HasSuffix(name, want) || strings.Contains(name, "//") || strings.HasPrefix(name, "/") ||
			slices.Contains(strings.Split(name, "/"), "..") {
			t.Fatalf("object name %q", name)
		}
	})
}
