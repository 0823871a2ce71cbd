package compositor

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// newCommand prepares an ffmpeg run whose stderr goes to tail. The child
// dies with this process (on Linux), so that a crash leaves no decoder
// waiting on its ports for ever.
func newCommand(path string, args []string, tail *logTail) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Stderr = tail
	cmd.SysProcAttr = childAttr()
	cmd.WaitDelay = time.Second
	return cmd
}

// logTail is the stderr of a child process: each line is logged at debug
// level, and the last few are kept to explain an exit.
type logTail struct {
	log   *slog.Logger
	mu    sync.Mutex
	part  []byte
	lines []string
}

const tailLines = 8

func newLogTail(log *slog.Logger) *logTail { return &logTail{log: log} }

func (t *logTail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(t.part) < 4096 {
				t.part = append(t.part, b...)
			}
			break
		}
		line := strings.TrimSpace(string(append(t.part, b[:i]...)))
		t.part = t.part[:0]
		b = b[i+1:]
		if line == "" {
			continue
		}
		t.log.Debug("ffmpeg: " + line)
		if len(t.lines) == tailLines {
			copy(t.lines, t.lines[1:])
			t.lines = t.lines[:tailLines-1]
		}
		t.lines = append(t.lines, line)
	}
	return n, nil
}

// String returns the last lines, joined.
func (t *logTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if p := strings.TrimSpace(string(t.part)); p != "" {
		lines = append(lines[:len(lines):len(lines)], p)
	}
	return strings.Join(lines, " | ")
}

// exitError describes how a child process ended.
func exitError(what string, err error, tail *logTail) error {
	if err == nil {
		return nil
	}
	if s := tail.String(); s != "" {
		return fmt.Errorf("compositor: %s: %w: %s", what, err, s)
	}
	return fmt.Errorf("compositor: %s: %w", what, err)
}

var loopback = net.IPv4(127, 0, 0, 1)

// freePortPair returns a loopback UDP port p such that p and p+1 (where
// ffmpeg's RTP demuxer listens for RTCP) are both free now. Another
// program may take them before the decoder binds them: the decoder then
// fails and is started again on other ports.
func freePortPair() (int, error) {
	for range 64 {
		a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: loopback})
		if err != nil {
			return 0, err
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p >= 65535 {
			a.Close()
			continue
		}
		b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: loopback, Port: p + 1})
		a.Close()
		if err == nil {
			b.Close()
			return p, nil
		}
	}
	return 0, errors.New("compositor: no free pair of UDP ports")
}
