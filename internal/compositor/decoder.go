package compositor

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/sfu"
)

// The payload types of the decoders' SDP; the feeds write them into the
// packets they forward, whatever the publisher negotiated.
const (
	videoPT = 96
	audioPT = 111
)

// rtpmapName returns the SDP encoding name of a codec of kind, or "" when
// the decoders do not take it.
func rtpmapName(kind webrtc.RTPCodecType, c sfu.Codec) string {
	switch {
	case kind == webrtc.RTPCodecTypeAudio && c == sfu.CodecOpus:
		return "opus/48000/2"
	case kind != webrtc.RTPCodecTypeVideo:
		return ""
	}
	switch c {
	case sfu.CodecVP8, sfu.CodecVP9, sfu.CodecH264, sfu.CodecAV1:
		return c.String() + "/90000"
	}
	return ""
}

// decoderSDP describes the one RTP stream a decoder receives on port.
func decoderSDP(kind webrtc.RTPCodecType, c sfu.Codec, fmtp string, port int) string {
	media, pt := "video", videoPT
	if kind == webrtc.RTPCodecTypeAudio {
		media, pt = "audio", audioPT
	}
	var b strings.Builder
	b.WriteString("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=parley\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n")
	fmt.Fprintf(&b, "m=%s %d RTP/AVP %d\r\n", media, port, pt)
	fmt.Fprintf(&b, "a=rtpmap:%d %s\r\n", pt, rtpmapName(kind, c))
	if fmtp = cleanFmtp(fmtp); fmtp != "" {
		fmt.Fprintf(&b, "a=fmtp:%d %s\r\n", pt, fmtp)
	}
	return b.String()
}

// cleanFmtp returns the publisher's format parameters when they are one
// plain line, and "" otherwise: they come from the publisher's SDP and
// must not add lines to the decoder's.
func cleanFmtp(s string) string {
	if len(s) > 512 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return ""
		}
	}
	return strings.TrimSpace(s)
}

// decoderInput is the input half of a decoder's command line: the SDP on
// stdin, the RTP on loopback UDP, bound to loopback only. The SDP and the
// first picture say all there is to know, so probing is cut to nothing and
// the decoder starts on the first packets (in about 150 ms rather than a
// second); one thread keeps frame threading from holding pictures back; a
// missing packet is waited for 50 ms at most.
func decoderInput() []string {
	return []string{
		"-hide_banner", "-nostats", "-nostdin", "-loglevel", "error",
		"-threads", "1",
		"-protocol_whitelist", "pipe,udp,rtp",
		"-localaddr", "127.0.0.1",
		"-reorder_queue_size", "64", "-max_delay", "50000",
		"-probesize", "32", "-analyzeduration", "0",
		"-flags", "low_delay",
		"-f", "sdp", "-i", "pipe:0",
	}
}

// decoderArgs is the command line of a decoder of kind: pictures as
// yuv4mpegpipe 4:2:0, each one as it is decoded, or audio as s16le 48 kHz
// stereo, on stdout. The audio follows the RTP timestamps: a lost packet
// becomes 20 ms of silence rather than a hole that would drain the
// source's ring.
func decoderArgs(kind webrtc.RTPCodecType) []string {
	args := decoderInput()
	if kind == webrtc.RTPCodecTypeVideo {
		return append(args, "-map", "0:v:0", "-fps_mode", "passthrough", "-pix_fmt", "yuv420p",
			"-f", "yuv4mpegpipe", "-flush_packets", "1", "pipe:1")
	}
	return append(args, "-map", "0:a:0", "-af", "aresample=async=1:min_hard_comp=0.015",
		"-ar", strconv.Itoa(sampleRate), "-ac", strconv.Itoa(channels),
		"-f", "s16le", "-flush_packets", "1", "pipe:1")
}

// av1Support caches, per ffmpeg program, whether its RTP demuxer knows AV1
// (ffmpeg 5.1, Debian 12's, does not).
var av1Support struct {
	mu sync.Mutex
	by map[string]bool
}

// ffmpegReadsAV1RTP asks ffmpeg whether its SDP demuxer maps the AV1
// encoding name to a codec: at debug level, as soon as it has read the
// SDP, it says "video codec set to: av1", or "(null)" without an AV1
// depacketizer. It runs a short ffmpeg and waits for it; quit cuts it
// short.
func ffmpegReadsAV1RTP(path string, log *slog.Logger, quit <-chan struct{}) bool {
	av1Support.mu.Lock()
	defer av1Support.mu.Unlock()
	if ok, known := av1Support.by[path]; known {
		return ok
	}
	port, err := freePortPair()
	if err != nil {
		return false
	}
	args := []string{"-hide_banner", "-nostats", "-nostdin", "-loglevel", "debug",
		"-protocol_whitelist", "pipe,udp,rtp", "-localaddr", "127.0.0.1", "-f", "sdp", "-i", "pipe:0", "-f", "null", "-"}
	cmd := newCommand(path, args, newLogTail(log))
	cmd.Stdin = strings.NewReader(decoderSDP(webrtc.RTPCodecTypeVideo, sfu.CodecAV1, "", port))
	cmd.Stderr = nil
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return false
	}
	if err := cmd.Start(); err != nil {
		return false
	}
	found := make(chan bool, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		ok := false
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, name, hit := strings.Cut(sc.Text(), "video codec set to: "); hit {
				ok = name != "" && name != "(null)"
				break
			}
		}
		found <- ok
		io.Copy(io.Discard, stderr)
	}()
	ok := false
	answered := true
	t := time.NewTimer(5 * time.Second)
	select {
	case ok = <-found:
	case <-t.C:
		answered = false
	case <-quit:
		answered = false
	}
	t.Stop()
	cmd.Process.Kill()
	<-read // the pipe ends with the process
	cmd.Wait()
	if answered {
		if av1Support.by == nil {
			av1Support.by = make(map[string]bool)
		}
		av1Support.by[path] = ok
	}
	return ok
}
