package session

import "fmt"

// MediaMode says how media flows in a session.
type MediaMode string

const (
	// Routed sessions send media through Parley's SFU.
	Routed MediaMode = "routed"
	// Relayed sessions send media peer to peer, with TURN as the fallback.
	Relayed MediaMode = "relayed"
)

// ArchiveMode says whether a session records by itself.
type ArchiveMode string

const (
	// ArchiveManual sessions record when the API asks.
	ArchiveManual ArchiveMode = "manual"
	// ArchiveAlways sessions record whenever someone publishes.
	ArchiveAlways ArchiveMode = "always"
)

// ParseMediaMode accepts "routed" or "relayed".
func ParseMediaMode(s string) (MediaMode, error) {
	switch m := MediaMode(s); m {
	case Routed, Relayed:
		return m, nil
	}
	return "", fmt.Errorf("media mode %q: want routed or relayed", s)
}

// ParseArchiveMode accepts "manual" or "always".
func ParseArchiveMode(s string) (ArchiveMode, error) {
	switch m := ArchiveMode(s); m {
	case ArchiveManual, ArchiveAlways:
		return m, nil
	}
	return "", fmt.Errorf("archive mode %q: want manual or always", s)
}
