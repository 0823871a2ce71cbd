package token

import (
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Fixtures shared by the tests of this package.
const (
	keyA    = "123456"
	secretA = "secret-of-project-a"
	keyB    = "654321"
	secretB = "secret-of-project-b"
)

// t0 is the creation time of the observed Node tokens in the reference.
var t0 = time.Unix(1795435882, 0)

// Session ids are fixed so that token bytes are the same on every run.
var (
	sidA  = fixedID(keyA, "Q9mcXG1QrN3TIYu8y-ppx_gs")
	sidA2 = fixedID(keyA, "hcbi9eeedQ3NMy4_kwQ10YZA")
	sidB  = fixedID(keyB, "11xLa1bbhzPeGQGmXsmgxI0k")
)

func fixedID(apiKey, random string) string {
	payload := "1~" + apiKey + "~~" + fmt.Sprint(t0.Add(-time.Hour).UnixMilli()) + "~" + random + "~~"
	return "1_" + base64.RawURLEncoding.EncodeToString([]byte(payload))
}

var errNoProject = errors.New("no such project")

func lookup(apiKey string) (string, error) {
	switch apiKey {
	case keyA:
		return secretA, nil
	case keyB:
		return secretB, nil
	}
	return "", fmt.Errorf("%w: %s", errNoProject, apiKey)
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in                           string
		want                         Role
		publish, subscribe, canForce bool
	}{
		{"subscriber", RoleSubscriber, false, true, false},
		{"publisher", RolePublisher, true, true, false},
		{"publisheronly", RolePublisherOnly, true, false, false},
		{"moderator", RoleModerator, true, true, true},
	}
	for _, tt := range tests {
		r, err := ParseRole(tt.in)
		if err != nil || r != tt.want {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", tt.in, r, err, tt.want)
			continue
		}
		if r.CanPublish() != tt.publish || r.CanSubscribe() != tt.subscribe || r.CanForce() != tt.canForce {
			t.Errorf("%s: publish %v subscribe %v force %v", r, r.CanPublish(), r.CanSubscribe(), r.CanForce())
		}
	}
	for _, bad := range []string{"", "Publisher", "PUBLISHER", "publisher_only", "admin", " publisher"} {
		if r, err := ParseRole(bad); !errors.Is(err, ErrInvalidRole) {
			t.Errorf("ParseRole(%q) = %q, %v; want ErrInvalidRole", bad, r, err)
		}
	}
	var zero Role
	if zero.CanPublish() || zero.CanSubscribe() || zero.CanForce() {
		t.Error("the zero Role grants something")
	}
}
