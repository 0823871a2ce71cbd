// Package live starts real `parley serve` processes for tests and finds
// the outside tools (node, chromium, ffmpeg) they drive. A missing tool
// skips the test on a developer's machine and fails it under CI=true.
package live

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Root is the repository's top folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Require returns the path of an outside program, or skips t (fails it
// when CI=true) with a message saying how to get it.
func Require(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Missing(t, fmt.Sprintf("%s not found on PATH; ./scripts/test installs it", program))
	}
	return p
}

// Missing skips t with why, or fails it under CI, where every real-part
// test must run.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required under CI: %s", why)
	}
	t.Skip(why)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/parley once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "parley-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "parley")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/parley")...)
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Server is a running `parley serve`.
type Server struct {
	URL    string
	APIKey string
	Data   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process is gone
	err    error         // its exit status, set before exited closes
	log    *Output
}

// Output collects what a process or goroutine writes, for a test to read
// while it still writes.
type Output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Output) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Output) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var bannerURL = regexp.MustCompile(`is serving on (http://\S+)`)
var bannerKey = regexp.MustCompile(`API key\s+(\d+)`)

// Start runs `parley serve --addr 127.0.0.1:0 --data <temp>` plus args,
// waits until /healthz answers, and stops the process at the end of t.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	return StartIn(t, data, args...)
}

// StartIn is Start with a given data folder (to restart on the same one).
func StartIn(t testing.TB, data string, args ...string) *Server {
	t.Helper()
	bin := Binary(t)
	all := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data,
		"--rtc-udp-port", "0", "--rtc-tcp-port", "0", "--turn-port", "0", "--log-level", "debug"}, args...)
	cmd := exec.Command(bin, all...)
	cmd.Env = append(os.Environ(), "PARLEY_CONFIG=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Data: data, cmd: cmd, exited: make(chan struct{}), log: &Output{}}
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})

	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.log.Write([]byte(line + "\n"))
			if m := bannerURL.FindStringSubmatch(line); m != nil {
				s.URL = m[1]
			}
			if m := bannerKey.FindStringSubmatch(line); m != nil && s.APIKey == "" {
				s.APIKey = m[1]
				close(found)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case <-found:
	case <-s.exited:
		t.Fatalf("parley serve exited: %v\n%s", s.err, s.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("parley serve printed no banner in 30 s\n%s", s.log.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("healthz never answered 200: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Log returns what the server printed so far.
func (s *Server) Log() string { return s.log.String() }

// Stop sends SIGTERM and waits for a graceful exit (failing t if the exit
// is not clean). Calling it twice is harmless.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.err != nil {
			t.Errorf("parley serve did not exit cleanly on SIGTERM: %v", s.err)
		}
		if r := raceReports(s.log.String()); r != "" {
			t.Errorf("the race detector found races in parley serve:\n%s", r)
		}
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("parley serve ignored SIGTERM for 15 s")
	}
}

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Kill stops the server with SIGKILL, as a crash would.
func (s *Server) Kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// Secret reads the generated project secret from the data folder.
func (s *Server) Secret(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Data, "project-"+s.APIKey+".secret"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// raceReports returns the race detector's reports in a process's output
// (each from its WARNING line to the closing rule), or "" when it has
// none: a failing test shows them first, not deep in a long log.
func raceReports(out string) string {
	const begin, rule = "WARNING: DATA RACE", "=================="
	var b strings.Builder
	for {
		i := strings.Index(out, begin)
		if i < 0 {
			return b.String()
		}
		out = out[i:]
		end := strings.Index(out, rule)
		if end < 0 {
			end = len(out)
		}
		b.WriteString(out[:end])
		b.WriteString(rule + "\n")
		out = out[end:]
	}
}
