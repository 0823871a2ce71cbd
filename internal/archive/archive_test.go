package archive

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestOptionsValidate(t *testing.T) {
	individual := func(f func(*Options)) Options {
		o := DefaultOptions()
		o.OutputMode = OutputIndividual
		f(&o)
		return o
	}
	composed := func(f func(*Options)) Options {
		o := DefaultOptions()
		f(&o)
		return o
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string // "" when valid, else a part of the message
	}{
		{"defaults", DefaultOptions(), ""},
		{"individual", individual(func(*Options) {}), ""},
		{"audio only", individual(func(o *Options) { o.HasVideo = false }), ""},
		{"neither audio nor video", individual(func(o *Options) { o.HasVideo, o.HasAudio = false, false }), "both be false"},
		{"unknown output mode", composed(func(o *Options) { o.OutputMode = "mixed" }), "outputMode"},
		{"unknown stream mode", composed(func(o *Options) { o.StreamMode = "some" }), "streamMode"},
		{"manual", individual(func(o *Options) { o.StreamMode = StreamModeManual }), ""},
		{"resolution", composed(func(o *Options) { o.Resolution = "1080x1920" }), ""},
		{"bad resolution", composed(func(o *Options) { o.Resolution = "800x600" }), "resolution"},
		{"resolution with individual", individual(func(o *Options) { o.Resolution = "640x480" }), "composed archives only"},
		{"max bitrate", composed(func(o *Options) { o.MaxBitrate = 2_000_000 }), ""},
		{"max bitrate too low", composed(func(o *Options) { o.MaxBitrate = 99_999 }), "maxBitrate"},
		{"max bitrate with individual", individual(func(o *Options) { o.MaxBitrate = 2_000_000 }), "composed archives only"},
		{"bitrate and quantization", composed(func(o *Options) { o.MaxBitrate, o.QuantizationParameter = 2_000_000, 20 }), "exclude"},
		{"quantization out of range", composed(func(o *Options) { o.QuantizationParameter = 41 }), "quantizationParameter"},
		{"layout", composed(func(o *Options) { o.Layout = &Layout{Type: "pip"} }), ""},
		{"screenshare type", composed(func(o *Options) { o.Layout = &Layout{Type: "bestFit", ScreenshareType: "pip"} }), ""},
		{"custom layout", composed(func(o *Options) { o.Layout = &Layout{Type: "custom", Stylesheet: "stream {}"} }), ""},
		{"custom without stylesheet", composed(func(o *Options) { o.Layout = &Layout{Type: "custom"} }), "stylesheet"},
		{"stylesheet without custom", composed(func(o *Options) { o.Layout = &Layout{Type: "pip", Stylesheet: "x"} }), "stylesheet"},
		{"screenshare type with pip", composed(func(o *Options) { o.Layout = &Layout{Type: "pip", ScreenshareType: "pip"} }), "screenshareType"},
		{"unknown layout", composed(func(o *Options) { o.Layout = &Layout{Type: "grid"} }), "layout type"},
		{"long name", individual(func(o *Options) { o.Name = strings.Repeat("n", MaxNameLen+1) }), "name"},
		{"long tag", individual(func(o *Options) { o.MultiArchiveTag = strings.Repeat("t", MaxTagLen+1) }), "multiArchiveTag"},
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

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f":        true,
		"0F8E3C2A-1B4D-4C5E-9F60-7A8B9C0D1E2F":        false, // ids are lower case
		"0f8e3c2a1b4d4c5e9f607a8b9c0d1e2f":            false,
		"../0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f":     false,
		"0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f/../etc": false,
		"0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f.zip":    false,
		"": false,
		"0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f\x00.zip": false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestSignedLinks(t *testing.T) {
	s := signer{secret: []byte("a secret of sixteen bytes at least")}
	now := time.Unix(1_800_000_000, 0)
	id := "0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f"
	other := "1f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f"
	link := s.link("https://parley.example.com/", id, ".zip", now.Add(10*time.Minute))
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "parley.example.com" || u.Path != "/v2/archives/"+id+".zip" {
		t.Fatalf("link %s", link)
	}
	exp, sig := u.Query().Get("expires"), u.Query().Get("sig")
	otherSig := signer{secret: []byte("another secret of sixteen bytes")}.sign(id, now.Add(10*time.Minute).Unix())
	for _, tc := range []struct {
		name         string
		id, exp, sig string
		at           time.Time
		ok           bool
	}{
		{"as issued", id, exp, sig, now, true},
		{"just before it expires", id, exp, sig, now.Add(10 * time.Minute), true},
		{"expired", id, exp, sig, now.Add(10*time.Minute + time.Second), false},
		{"another archive", other, exp, sig, now, false},
		{"a later expiry", id, "1900000000", sig, now, false},
		{"a changed signature", id, exp, sig[:len(sig)-1] + "A", now, false},
		{"another server's signature", id, exp, otherSig, now, false},
		{"no signature", id, exp, "", now, false},
		{"no expiry", id, "", sig, now, false},
		{"a bad expiry", id, exp + "x", sig, now, false},
	} {
		err := s.check(tc.id, tc.exp, tc.sig, tc.at)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrForbidden)) {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
