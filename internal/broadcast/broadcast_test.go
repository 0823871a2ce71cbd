package broadcast

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/layout"
)

func validOptions() Options {
	return Options{HLS: &HLS{}, StreamMode: "auto", HasAudio: true, HasVideo: true}
}

func TestOptionsValidate(t *testing.T) {
	with := func(f func(*Options)) Options {
		o := validOptions()
		f(&o)
		return o
	}
	rtmp := func(server, name string) func(*Options) {
		return func(o *Options) { o.RTMP = []RTMP{{ServerURL: server, StreamName: name}} }
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string // "" when valid
	}{
		{"hls", validOptions(), ""},
		{"rtmp only", with(func(o *Options) { o.HLS = nil; rtmp("rtmp://live.example.com/app", "key")(o) }), ""},
		{"rtmps with port", with(rtmp("rtmps://live.example.com:443/app/x", "k-1_2")), ""},
		{"no output", with(func(o *Options) { o.HLS = nil }), "outputs"},
		{"six targets", with(func(o *Options) {
			for range 6 {
				o.RTMP = append(o.RTMP, RTMP{ServerURL: "rtmp://h/a", StreamName: "k"})
			}
		}), "at most 5"},
		{"dvr and low latency", with(func(o *Options) { o.HLS = &HLS{DVR: true, LowLatency: true} }), "exclude"},
		{"short max duration", with(func(o *Options) { o.MaxDuration = 59 }), "maxDuration"},
		{"long max duration", with(func(o *Options) { o.MaxDuration = 36001 }), "maxDuration"},
		{"low bitrate", with(func(o *Options) { o.MaxBitrate = 99_999 }), "maxBitrate"},
		{"resolution", with(func(o *Options) { o.Resolution = "1080x1920" }), ""},
		{"bad resolution", with(func(o *Options) { o.Resolution = "800x600" }), "resolution"},
		{"stream mode", with(func(o *Options) { o.StreamMode = "some" }), "streamMode"},
		{"nothing to send", with(func(o *Options) { o.HasAudio, o.HasVideo = false, false }), "both be false"},
		{"bad layout", with(func(o *Options) { o.Layout = &layout.Spec{Type: "grid"} }), "layout"},
		{"bad stylesheet", with(func(o *Options) { o.Layout = &layout.Spec{Type: "custom", Stylesheet: "stream {"} }), "stylesheet"},
		{"http target", with(rtmp("http://example.com/app", "k")), "rtmp://"},
		{"file target", with(rtmp("file:///etc/passwd", "k")), "rtmp://"},
		{"no host", with(rtmp("rtmp:///app", "k")), "host"},
		{"query", with(rtmp("rtmp://h/app?x=1", "k")), "query"},
		{"space in url", with(rtmp("rtmp://h/a pp", "k")), "serverUrl"},
		{"empty stream name", with(rtmp("rtmp://h/app", "")), "streamName"},
		{"stream name with a space", with(rtmp("rtmp://h/app", "a b")), "streamName"},
		{"stream name with a newline", with(rtmp("rtmp://h/app", "a\nb")), "streamName"},
		{"stream name with a bare %", with(rtmp("rtmp://h/app", "key%")), "streamName"},
		{"duplicate ids", with(func(o *Options) {
			o.RTMP = []RTMP{{ID: "a", ServerURL: "rtmp://h/a", StreamName: "k"}, {ID: "a", ServerURL: "rtmp://h/b", StreamName: "k"}}
		}), "twice"},
		{"long tag", with(func(o *Options) { o.MultiBroadcastTag = strings.Repeat("t", MaxTagLen+1) }), "multiBroadcastTag"},
	} {
		err := tc.o.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid)):
			t.Errorf("%s: %v, want an invalid-request error about %q", tc.name, err, tc.want)
		}
	}
}

func TestRTMPTarget(t *testing.T) {
	for _, tc := range []struct{ server, name, want string }{
		{"rtmp://h/app", "key", "rtmp://h/app/key"},
		{"rtmps://h:443/app/", "key", "rtmps://h:443/app/key"},
	} {
		if got := (RTMP{ServerURL: tc.server, StreamName: tc.name}).target(); got != tc.want {
			t.Errorf("%s + %s = %s, want %s", tc.server, tc.name, got, tc.want)
		}
	}
}

// FuzzOptions: whatever a start's outputs say, Validate decides without
// panicking, and a target it accepts is an rtmp(s) URL with a host, and
// nothing an ffmpeg command line could take for an option or a file.
func FuzzOptions(f *testing.F) {
	f.Add(`{"rtmp":[{"id":"a","serverUrl":"rtmp://h/app","streamName":"k"}]}`)
	f.Add(`{"hls":{"dvr":true},"rtmp":[{"serverUrl":"rtmps://[::1]:1935/a","streamName":"-i"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		var in struct {
			HLS  *HLS   `json:"hls"`
			RTMP []RTMP `json:"rtmp"`
		}
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		o := validOptions()
		o.HLS, o.RTMP = in.HLS, in.RTMP
		if o.Validate() != nil {
			return
		}
		for _, r := range o.RTMP {
			target := r.target()
			u, err := url.Parse(target)
			if err != nil || (u.Scheme != "rtmp" && u.Scheme != "rtmps") || u.Host == "" || strings.HasPrefix(target, "-") {
				t.Fatalf("accepted target %q", target)
			}
		}
	})
}

func TestHLSFileNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"playlist.m3u8": true, "segment-00001.ts": true, "segment-123456789.ts": true,
		"../playlist.m3u8": false, "segment-1.ts": false, "segment-00001.ts.tmp": false, "playlist.m3u8.tmp": false, "": false,
	} {
		if hlsFileRE.MatchString(name) != ok {
			t.Errorf("%q: served %v, want %v", name, !ok, ok)
		}
	}
}
