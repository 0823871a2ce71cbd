// Package s3test runs a real S3-compatible server for tests: the Versity
// S3 gateway (versitygw) on a temporary folder, one process per test. A
// missing binary skips the test on a developer's machine and fails it
// under CI=true, as test/live does for its tools.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/parleyhq/parley/test/live"
)

// Version is the versitygw release scripts/test installs.
const Version = "v1.8.0"

// Server is a running versitygw with one root account.
type Server struct {
	// Endpoint is host:port, plain HTTP on loopback.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Dir is the gateway's root folder: each bucket is a folder in it.
	Dir string

	t      testing.TB
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process is gone
	err    error         // its exit status, set before exited closes
	log    *live.Output
}

// Binary returns the path of versitygw: $PARLEY_VERSITYGW, else
// versitygw on PATH, else .cache/bin/versitygw in the repository (where
// scripts/test installs it). When there is none it skips t, or fails it
// under CI=true.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PARLEY_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			live.Missing(t, fmt.Sprintf("PARLEY_VERSITYGW=%s: %v", p, err))
		}
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	p := filepath.Join(live.Root(), ".cache", "bin", "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	live.Missing(t, "versitygw (an S3-compatible server) not found: set PARLEY_VERSITYGW, put it on PATH, or run ./scripts/test, "+
		"which installs it with `go install github.com/versity/versitygw/cmd/versitygw@"+Version+"`")
	return ""
}

// Start runs versitygw on a free loopback port with a fresh folder and a
// random root account, waits until it answers, and stops it at the end
// of t.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	s := &Server{AccessKey: "parley-test", SecretKey: randomHex(t, 20), Dir: filepath.Join(t.TempDir(), "s3"),
		t: t, exited: make(chan struct{}), log: &live.Output{}}
	// Object metadata goes to a sidecar folder rather than to extended
	// attributes, which not every test machine's filesystem has.
	meta := filepath.Join(t.TempDir(), "s3-meta")
	for _, d := range []string{s.Dir, meta} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	s.Endpoint = freeAddr(t)
	s.cmd = exec.Command(bin, "--port", s.Endpoint, "--quiet", "posix", "--sidecar", meta, s.Dir)
	// The root account goes through the environment: command lines are
	// visible to every user of the machine.
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("versitygw: %v", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("versitygw log:\n%s", s.log.String())
		}
	})
	s.waitReady()
	return s
}

// waitReady polls the gateway until it answers HTTP (any status: an
// unsigned request is refused, which is an answer).
func (s *Server) waitReady() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get("http://" + s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-s.exited:
			s.t.Fatalf("versitygw exited at start: %v\n%s", s.err, s.log.String())
		case <-ctx.Done():
			s.t.Fatalf("versitygw did not answer on %s in 30 s: %v\n%s", s.Endpoint, err, s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop ends the process: SIGTERM, then SIGKILL if it lingers.
func (s *Server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// Client returns an S3 client of the root account.
func (s *Server) Client() *minio.Client {
	s.t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), MaxRetries: 1})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// MakeBucket creates bucket name through the S3 API.
func (s *Server) MakeBucket(name string) {
	s.t.Helper()
	if err := s.Client().MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		s.t.Fatalf("make bucket %s: %v", name, err)
	}
}

// Object returns the content of object name in bucket, or an error
// (minio.ToErrorResponse(err).Code is "NoSuchKey" when there is none).
func (s *Server) Object(bucket, name string) ([]byte, error) {
	s.t.Helper()
	o, err := s.Client().GetObject(context.Background(), bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
