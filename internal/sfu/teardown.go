package sfu

import "sync"

// teardowns runs the peer connection closes done aside (a close started
// from one of Pion's callbacks must not wait for that peer connection's
// goroutines) and lets the SFU's Close wait for them.
//
// It is not a sync.WaitGroup on purpose: with a WaitGroup, a count going
// from zero to one must be ordered before Wait, and here it is not — a
// peer connection that fails (ICE gives up on a client that vanished)
// ends its stream or subscription on a goroutine of Pion's, at any time,
// Close's wait included. A count under a lock has no such rule: a
// teardown started while Close waits is waited for as well.
type teardowns struct {
	mu      sync.Mutex
	running int
	idle    *sync.Cond // signalled when running drops to zero
}

// Go runs fn on a goroutine of its own, counted until it returns.
func (t *teardowns) Go(fn func()) {
	t.mu.Lock()
	t.running++
	t.mu.Unlock()
	go func() {
		defer t.done()
		fn()
	}()
}

func (t *teardowns) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running--; t.running == 0 && t.idle != nil {
		t.idle.Broadcast()
	}
}

// Wait returns once no teardown runs.
func (t *teardowns) Wait() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.idle == nil {
		t.idle = sync.NewCond(&t.mu)
	}
	for t.running > 0 {
		t.idle.Wait()
	}
}
