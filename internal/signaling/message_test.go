package signaling

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	ok := []string{
		`{"type":"connect","id":1,"sessionId":"s","token":"t"}`,
		`{"type":"signal","signalType":"chat","data":"hi","to":"c"}`,
		`{"type":"updateStream","id":3,"streamId":"x","property":"hasVideo","value":false}`,
		`{"type":"candidate","pc":"p","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		` {"type":"ping"} `,
	}
	for _, s := range ok {
		if _, err := DecodeRequest([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{
		``, `null`, `[]`, `"connect"`, `{}`, `{"type":"launch"}`, `{"type":"ping","extra":1}`,
		`{"type":"ping"}{"type":"ping"}`, `{"type":"ping"`, `{"type":"ping","id":-1}`, `{"type":"ping","id":"1"}`,
		`{"type":"publish","stream":"x"}`, `{"type":"ping","id":1e400}`,
		`{"type":"ping","pad":"` + strings.Repeat("a", MaxMessageBytes) + `"}`,
	}
	for _, s := range bad {
		if _, err := DecodeRequest([]byte(s)); !errors.Is(err, ErrMessage) {
			t.Errorf("%.60s: got %v, want ErrMessage", s, err)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"type":"connect","id":1,"sessionId":"s","token":"t"}`))
	f.Add([]byte(`{"type":"publish","id":2,"offer":"v=0","stream":{"name":"n","hasAudio":true,"hasVideo":true,"videoDimensions":{"width":1,"height":2}}}`))
	f.Add([]byte(`{"type":"signal","signalType":"x","data":"y"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err == nil && (r == nil || !requestTypes[r.Type] || r.ID < 0) {
			t.Fatalf("accepted %q as %+v", b, r)
		}
	})
}
