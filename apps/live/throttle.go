package live

import (
	"strings"
	"sync"
	"time"
)

// Sign-in throttling: after MaxFailures wrong passwords for one name
// within FailureWindow, that name is refused until the oldest failure
// ages out, whatever the password.
const (
	MaxFailures   = 5
	FailureWindow = 10 * time.Minute
	// maxTracked bounds the names tracked at once; beyond it, names
	// whose failures have aged out are forgotten first.
	maxTracked = 10000
)

type throttle struct {
	mu    sync.Mutex
	fails map[string][]time.Time
}

func newThrottle() *throttle { return &throttle{fails: map[string][]time.Time{}} }

func throttleKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// recent keeps the failures of key within the window; the caller holds mu.
func (t *throttle) recent(key string, now time.Time) []time.Time {
	list := t.fails[key]
	i := 0
	for i < len(list) && now.Sub(list[i]) >= FailureWindow {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(t.fails, key)
	} else {
		t.fails[key] = list
	}
	return list
}

// blocked says whether sign-ins for name are refused for now.
func (t *throttle) blocked(name string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.recent(throttleKey(name), now)) >= MaxFailures
}

// fail records a wrong password for name.
func (t *throttle) fail(name string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fails) >= maxTracked {
		for k := range t.fails {
			t.recent(k, now)
		}
	}
	key := throttleKey(name)
	t.fails[key] = append(t.recent(key, now), now)
}

// reset forgets the failures of name, after a right password.
func (t *throttle) reset(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, throttleKey(name))
}
