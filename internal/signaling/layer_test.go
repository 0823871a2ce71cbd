package signaling

import "testing"

func TestLayerForSize(t *testing.T) {
	d := func(w, h int) *Dimensions { return &Dimensions{Width: w, Height: h} }
	for _, c := range []struct {
		name   string
		w, h   int
		layers int
		want   *Dimensions
		layer  int
	}{
		{"no preference", 1280, 720, 3, nil, 2},
		{"zero size", 1280, 720, 3, d(0, 0), 2},
		{"one layer", 1280, 720, 1, d(320, 180), 0},
		{"exact best", 1280, 720, 3, d(1280, 720), 2},
		{"larger than the best", 1280, 720, 3, d(4000, 3000), 2},
		{"half", 1280, 720, 3, d(640, 360), 1},
		{"half, encoder rounding", 1280, 720, 3, d(640, 368), 1},
		{"within a tenth of half", 1280, 720, 3, d(600, 340), 1},
		{"well under half", 1280, 720, 3, d(560, 315), 0},
		{"quarter", 1280, 720, 3, d(320, 180), 0},
		{"smaller than any", 1280, 720, 3, d(100, 50), 0},
		{"width only", 1280, 720, 3, d(700, 0), 1},
		{"height only", 1280, 720, 3, d(0, 200), 0},
		{"unknown stream size", 0, 0, 3, d(320, 180), 2},
		{"two layers", 640, 480, 2, d(320, 240), 0},
	} {
		if got := layerForSize(c.w, c.h, c.layers, c.want); got != c.layer {
			t.Errorf("%s: layer %d, want %d", c.name, got, c.layer)
		}
	}
	for _, bad := range []*Dimensions{d(-1, 5), d(5, -1), d(maxDimension+1, 5)} {
		if validResolution(bad) == nil {
			t.Errorf("%+v accepted", *bad)
		}
	}
	if validResolution(nil) != nil || validResolution(d(0, 0)) != nil || validResolution(d(maxDimension, maxDimension)) != nil {
		t.Error("a valid preference refused")
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.1.2.3:1": true, "[::1]:443": true, "[::ffff:127.0.0.1]:80": true,
		"192.0.2.2:5000": false, "[2001:db8::1]:80": false, "[fe80::1%eth0]:80": false,
		"localhost:80": false, "": false, "garbage": false, "::1": true,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("%q: %v, want %v", addr, got, want)
		}
	}
}
