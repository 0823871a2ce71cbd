package rtcclient

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// timedWriter records when each packet reached it.
type timedWriter struct {
	mu  sync.Mutex
	at  []time.Time
	seq []uint16
}

func (w *timedWriter) Write(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at = append(w.at, time.Now())
	w.seq = append(w.seq, h.SequenceNumber)
	return len(payload), nil
}

// A burst written at once leaves in order, no faster than the rate: the
// last of n packets of s bytes leaves at least (n-1)·s/rate after the
// first. The bound only says the pacer never runs ahead.
func TestPacerSpacesABurst(t *testing.T) {
	c := &Client{sinks: map[uint32]sendSink{}}
	c.sinks[7] = sendSink{pace: 800_000} // 100 000 bytes a second
	p := &pacer{c: c, streams: map[uint32]*pacedStream{}}
	w := &timedWriter{}
	write := p.BindLocalStream(&interceptor.StreamInfo{SSRC: 7}, w)
	const n, size = 10, 1000
	payload := make([]byte, size-12) // a 12-byte header makes 1000 bytes
	for i := range n {
		if _, err := write.Write(&rtp.Header{Version: 2, SequenceNumber: uint16(i), SSRC: 7}, payload, nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		got := len(w.at)
		w.mu.Unlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d packets left", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.UnbindLocalStream(&interceptor.StreamInfo{SSRC: 7})
	for i, s := range w.seq {
		if s != uint16(i) {
			t.Fatalf("order %v", w.seq)
		}
	}
	if spread, least := w.at[n-1].Sub(w.at[0]), time.Duration(n-1)*size*time.Second/100_000; spread < least {
		t.Fatalf("the burst left within %v, the rate allows no less than %v", spread, least)
	}
	if _, err := write.Write(&rtp.Header{}, payload, nil); err == nil {
		t.Fatal("a write after the stream ended succeeded")
	}
	// Streams without a pace pass straight through.
	if got := p.BindLocalStream(&interceptor.StreamInfo{SSRC: 8}, w); got == nil {
		t.Fatal("no writer")
	}
	p.Close()
}
