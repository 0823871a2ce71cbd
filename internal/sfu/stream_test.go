package sfu

import (
	"slices"
	"strings"
	"testing"
)

const simulcastOffer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rid:x send\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n%s"

func TestSimulcastRIDs(t *testing.T) {
	for _, c := range []struct {
		name, rids string
		want       []string
	}{
		{"none", "", nil},
		{"browser order", "a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n", []string{"q", "h", "f"}},
		{"known names reversed", "a=rid:f send\r\na=rid:h send\r\na=rid:q send\r\n", []string{"q", "h", "f"}},
		{"numbers", "a=rid:2 send\r\na=rid:0 send\r\na=rid:1 send\r\n", []string{"0", "1", "2"}},
		{"other names keep the offer's order", "a=rid:hi send\r\na=rid:lo send\r\n", []string{"hi", "lo"}},
		{"receive rids and duplicates ignored", "a=rid:a recv\r\na=rid:b send\r\na=rid:b send\r\na=rid:c send\r\n", []string{"b", "c"}},
		{"one rid", "a=rid:f send\r\n", []string{"f"}},
	} {
		got := simulcastRIDs(strings.Replace(simulcastOffer, "%s", c.rids, 1), "1")
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := simulcastRIDs("not sdp", "1"); got != nil {
		t.Errorf("garbage: %q", got)
	}
	if got := simulcastRIDs(strings.Replace(simulcastOffer, "%s", "", 1), "0"); !slices.Equal(got, []string{"x"}) {
		t.Errorf("the audio section: %q", got)
	}
}

// FuzzSimulcastRIDs: any offer text gives RIDs the offer lists for
// sending, each once.
func FuzzSimulcastRIDs(f *testing.F) {
	f.Add(strings.Replace(simulcastOffer, "%s", "a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\n", 1), "1")
	f.Add("v=0\r\n", "")
	f.Fuzz(func(t *testing.T, offer, mid string) {
		rids := simulcastRIDs(offer, mid)
		seen := map[string]bool{}
		for _, r := range rids {
			if r == "" || seen[r] || !strings.Contains(offer, "a=rid:"+r+" send") {
				t.Fatalf("rid %q from %q", r, offer)
			}
			seen[r] = true
		}
	})
}
