package session

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewIDRoundTrip(t *testing.T) {
	now := time.Date(2025, 2, 14, 13, 14, 54, 959_123_456, time.UTC)
	tests := []struct {
		name, apiKey, location string
	}{
		{"numeric key", "47665971", ""},
		{"with location", "45172682", "12.34.56.78"},
		{"short key", "1", ""},
		{"uuid key", "29f760f8-5d4e-4f4e-9a57-f2dedee4ed5f", "10.0.0.1"},
		{"ipv6 location", "123456", "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := NewID(tt.apiKey, tt.location, now)
			if !strings.HasPrefix(id, "1_") {
				t.Errorf("id %q lacks the 1_ prefix", id)
			}
			if strings.ContainsAny(id, "+/=") {
				t.Errorf("id %q holds a character outside the URL-safe alphabet", id)
			}
			if len(id) > MaxIDLen {
				t.Errorf("id is %d bytes long, the limit is %d", len(id), MaxIDLen)
			}

			// Decode exactly as the SDKs do, not through ParseID.
			raw, err := base64.RawURLEncoding.DecodeString(id[2:])
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			fields := strings.Split(string(raw), "~")
			if len(fields) != 7 {
				t.Fatalf("payload %q has %d fields, want 7", raw, len(fields))
			}
			if fields[0] != "1" || fields[1] != tt.apiKey || fields[2] != tt.location {
				t.Errorf("payload %q: want version 1, key %q, location %q", raw, tt.apiKey, tt.location)
			}
			if fields[3] != "1739538894959" {
				t.Errorf("timestamp field %q, want epoch millis 1739538894959", fields[3])
			}
			if r := fields[4]; len(r) != 24 || strings.ContainsAny(r, "+/=") {
				t.Errorf("random field %q: want 24 base64url characters", r)
			}
			if fields[5] != "" || fields[6] != "" {
				t.Errorf("payload %q: want empty trailing fields", raw)
			}

			p, err := ParseID(id)
			if err != nil {
				t.Fatalf("ParseID(%q): %v", id, err)
			}
			want := ParsedID{APIKey: tt.apiKey, Location: tt.location, Created: now.Truncate(time.Millisecond)}
			if p.APIKey != want.APIKey || p.Location != want.Location || !p.Created.Equal(want.Created) {
				t.Errorf("ParseID = %+v, want %+v", p, want)
			}
		})
	}
}

func TestNewIDUnique(t *testing.T) {
	now := time.Now()
	seen := make(map[string]bool)
	for range 1000 {
		id := NewID("123456", "", now)
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestNewIDDropsBadLocation(t *testing.T) {
	for _, loc := range []string{"1.2.3.4~x", "café"} {
		p, err := ParseID(NewID("123456", loc, time.Now()))
		if err != nil {
			t.Fatalf("location %q: %v", loc, err)
		}
		if p.APIKey != "123456" || p.Location != "" {
			t.Errorf("location %q: got %+v, want key 123456 and no location", loc, p)
		}
	}
}

func TestNewIDPanicsOnBadKey(t *testing.T) {
	for _, key := range []string{"", "12~34", "clé"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewID(%q) did not panic", key)
				}
			}()
			NewID(key, "", time.Now())
		}()
	}
}

// The payloads are the decoded forms of real ids listed in the OpenTok
// reference (§2.3). The middle of the Vonage application id is elided there,
// so a made-up one stands in.
func TestParseIDRealExamples(t *testing.T) {
	pdt := time.FixedZone("PDT", -7*3600)
	tests := []struct {
		name     string
		prefix   string
		payload  string
		key, loc string
		created  time.Time
	}{
		{
			name: "2014 no location", prefix: "1_",
			payload: "1~123456~~Mon Mar 17 00:41:31 PDT 2014~0.6837895344942808~",
			key:     "123456", created: time.Date(2014, 3, 17, 0, 41, 31, 0, pdt),
		},
		{
			name: "2014 with location", prefix: "1_",
			payload: "1~123456~12.34.56.78~Mon Mar 17 01:48:55 PDT 2014~0.3413431402295828~",
			key:     "123456", loc: "12.34.56.78", created: time.Date(2014, 3, 17, 1, 48, 55, 0, pdt),
		},
		{
			name: "2015 millis", prefix: "2_",
			payload: "1~45172682~~1425869039571~hcbi9eeedQ3NMy4/kwQ10YZA~~",
			key:     "45172682", created: time.UnixMilli(1425869039571),
		},
		{
			name: "2025 relayed", prefix: "1_",
			payload: "1~47665971~~1739538894959~Q9mcXG1QrN3TIYu8y+ppx/gs~P~~",
			key:     "47665971", created: time.UnixMilli(1739538894959),
		},
		{
			name: "vonage application", prefix: "1_",
			payload: "1~29f760f8-5d4e-4f4e-9a57-f2dedee4ed5f~~1726462588647~11xLa1bbhzPeGQGmXsmgxI0k~~~",
			key:     "29f760f8-5d4e-4f4e-9a57-f2dedee4ed5f", created: time.UnixMilli(1726462588647),
		},
	}
	encodings := []struct {
		name string
		enc  *base64.Encoding
	}{
		{"url nopad", base64.RawURLEncoding},
		{"url padded", base64.URLEncoding},
		{"std nopad", base64.RawStdEncoding},
		{"std padded", base64.StdEncoding},
	}
	for _, tt := range tests {
		for _, e := range encodings {
			t.Run(tt.name+"/"+e.name, func(t *testing.T) {
				id := tt.prefix + e.enc.EncodeToString([]byte(tt.payload))
				p, err := ParseID(id)
				if err != nil {
					t.Fatalf("ParseID(%q): %v", id, err)
				}
				if p.APIKey != tt.key || p.Location != tt.loc {
					t.Errorf("got key %q location %q, want %q %q", p.APIKey, p.Location, tt.key, tt.loc)
				}
				if !p.Created.Equal(tt.created) {
					t.Errorf("Created = %v, want %v", p.Created, tt.created)
				}
			})
		}
	}
}

func TestParseIDCreated(t *testing.T) {
	tests := []struct {
		field string
		want  time.Time
	}{
		{"1739538894959", time.UnixMilli(1739538894959)},
		{"0", time.Unix(0, 0)},
		{"Mon Mar 17 00:41:31 PDT 2014", time.Date(2014, 3, 17, 7, 41, 31, 0, time.UTC)},
		{"Tue Nov 04 09:05:00 EST 2014", time.Date(2014, 11, 4, 14, 5, 0, 0, time.UTC)},
		{"Tue Nov 4 09:05:00 GMT 2014", time.Date(2014, 11, 4, 9, 5, 0, 0, time.UTC)},
		{"Tue Nov 04 09:05:00 GMT+05:30 2014", time.Date(2014, 11, 4, 3, 35, 0, 0, time.UTC)},
		{"Tue Nov 04 09:05:00 XYZ 2014", time.Date(2014, 11, 4, 9, 5, 0, 0, time.UTC)},
		{"", time.Time{}},
		{"-5", time.Time{}},
		{"99999999999999999999", time.Time{}},
		{"yesterday", time.Time{}},
		{"Tue Nov 44 09:05:00 GMT 2014", time.Time{}},
	}
	for _, tt := range tests {
		id := "1_" + base64.RawURLEncoding.EncodeToString([]byte("1~123456~~"+tt.field+"~r~~"))
		p, err := ParseID(id)
		if err != nil {
			t.Errorf("%q: %v", tt.field, err)
			continue
		}
		if !p.Created.Equal(tt.want) {
			t.Errorf("%q: Created = %v, want %v", tt.field, p.Created, tt.want)
		}
	}
}

func TestParseIDErrors(t *testing.T) {
	enc := func(payload string) string {
		return "1_" + base64.RawURLEncoding.EncodeToString([]byte(payload))
	}
	tests := []struct {
		name, id, want string
	}{
		{"empty", "", "too short"},
		{"prefix only", "1_", "too short"},
		{"too long", enc("1~123456~~1~" + strings.Repeat("x", 200) + "~~"), "limit is 255"},
		{"not base64", "1_!!!!", "illegal base64"},
		{"dangling base64 char", "1_MX4xM", "illegal base64"},
		{"non-ASCII", enc("1~123456~~1~é~~"), "non-ASCII"},
		{"invalid UTF-8", enc("1~123456~~1~\xff~~"), "non-ASCII"},
		{"too few fields", enc("1~123456~~1"), "want at least 5"},
		{"no separators", enc("SESSIONID"), "want at least 5"},
		{"wrong version", enc("2~123456~~1~r~~"), "format version"},
		{"empty key", enc("1~~~1~r~~"), "empty API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseID(tt.id)
			if err == nil {
				t.Fatalf("ParseID(%q) succeeded, want an error containing %q", tt.id, tt.want)
			}
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("error %v does not wrap ErrInvalidID", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func FuzzParseID(f *testing.F) {
	f.Add("1_"+base64.RawURLEncoding.EncodeToString([]byte("1~123456~~Mon Mar 17 00:41:31 PDT 2014~0.6837895344942808~")), "123456", "")
	f.Add("2_"+base64.StdEncoding.EncodeToString([]byte("1~45172682~~1425869039571~hcbi9eeedQ3NMy4/kwQ10YZA~~")), "45172682", "12.34.56.78")
	f.Add("T1==", "1", "~")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, id, apiKey, location string) {
		if p, err := ParseID(id); err == nil {
			if p.APIKey == "" || len(id) > MaxIDLen {
				t.Fatalf("ParseID(%q) = %+v, accepted an id it should reject", id, p)
			}
		}

		if apiKey == "" || !validField(apiKey) {
			return // NewID panics by contract
		}
		now := time.UnixMilli(1739538894959)
		gen := NewID(apiKey, location, now)
		p, err := ParseID(gen)
		if err != nil {
			if len(gen) <= MaxIDLen {
				t.Fatalf("ParseID(NewID(%q, %q)) = %v", apiKey, location, err)
			}
			return
		}
		wantLoc := location
		if !validField(location) {
			wantLoc = ""
		}
		if p.APIKey != apiKey || p.Location != wantLoc || !p.Created.Equal(now) {
			t.Fatalf("NewID(%q, %q) parsed back as %+v", apiKey, location, p)
		}
	})
}

func BenchmarkParseID(b *testing.B) {
	id := NewID("47665971", "", time.Now())
	for b.Loop() {
		if _, err := ParseID(id); err != nil {
			b.Fatal(err)
		}
	}
}
