package sfu

import (
	"testing"
	"time"
)

// TestTeardownsStartedAnywhere: teardowns started on goroutines that
// share nothing with the one closing the SFU (as Pion's callbacks are),
// before and while it waits, are waited for, and the race detector has
// nothing to say (a sync.WaitGroup used this way is a data race: the
// first Add of a count must be ordered before Wait).
func TestTeardownsStartedAnywhere(t *testing.T) {
	var td teardowns
	// A teardown started and finished elsewhere, before Close.
	go td.Go(func() {})
	time.Sleep(20 * time.Millisecond)

	slow := make(chan struct{})
	td.Go(func() { <-slow })
	late := make(chan struct{})
	lateDone := make(chan struct{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		// Started while Close waits, before the slow one ends: waited
		// for too.
		td.Go(func() { <-late; close(lateDone) })
		close(slow)
		time.Sleep(20 * time.Millisecond)
		close(late)
	}()
	td.Wait()
	select {
	case <-lateDone:
	default:
		t.Fatal("Wait returned before a teardown started while it waited")
	}
}
