package loadtest

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"testing"
)

// svgPaths parses an SVG document and returns the data-series of its
// paths, failing on anything that is not well-formed XML.
func svgPaths(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var series []string
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "path" {
				for _, a := range se.Attr {
					if a.Name.Local == "data-series" {
						series = append(series, a.Value)
					}
				}
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	return series
}

func TestWriteSVG(t *testing.T) {
	rep := Report{Sessions: 1, VideoPublishers: 1, Subscribers: 3, Tracks: 3, Media: `VP8 clip <"&">`}
	for i := range 12 {
		phase := "steady"
		if i < 3 {
			phase = "joining"
		}
		rep.Timeline = append(rep.Timeline, Sample{T: float64(i + 1), Phase: phase,
			PacketsInPerSec: 300, PacketsOutPerSec: 100, LossPercent: float64(i % 2), DelayP50Ms: 0.5, DelayP99Ms: 2})
	}
	var b bytes.Buffer
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	got := svgPaths(t, b.Bytes())
	slices.Sort(got)
	if want := []string{"delay-p50", "delay-p99", "loss", "packets-in", "packets-out"}; !slices.Equal(got, want) {
		t.Errorf("series %v, want %v", got, want)
	}

	// With a server process, its CPU is a panel too; an empty timeline
	// still gives a path per series.
	rep.Server = &ProcReport{PID: 1}
	rep.Timeline = nil
	b.Reset()
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if got := svgPaths(t, b.Bytes()); len(got) != 8 || !slices.Contains(got, "server-cpu") || !slices.Contains(got, "machine-cpu") {
		t.Errorf("series %v", got)
	}
}

func TestNiceCeilAndTick(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0, 1}, {-3, 1}, {0.7, 1}, {1, 1}, {1.2, 2}, {3, 5}, {7, 10}, {4200, 5000}, {0.013, 0.02}} {
		if got := niceCeil(c.in); got != c.want {
			t.Errorf("niceCeil(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   float64
		want string
	}{{0, "0"}, {2.5, "2.5"}, {12000, "12k"}, {2500000, "2.5M"}} {
		if got := tick(c.in); got != c.want {
			t.Errorf("tick(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
