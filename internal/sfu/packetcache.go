package sfu

import "sync"

// maxPacket is the largest RTP packet kept; browsers stay under 1200
// bytes of payload, and anything longer would not cross most links.
const maxPacket = 1500

// packetCache keeps the last packets of one track, indexed by sequence
// number, so that every subscriber's NACK is answered from one copy
// instead of one copy per subscriber.
type packetCache struct {
	mu    sync.Mutex
	slots []cacheSlot
}

type cacheSlot struct {
	seq   uint16
	valid bool
	n     int
	buf   [maxPacket]byte
}

// newPacketCache returns a cache of size packets; size must be a power of
// two so that a sequence number maps to a slot by masking.
func newPacketCache(size int) *packetCache {
	return &packetCache{slots: make([]cacheSlot, size)}
}

// put stores a raw RTP packet under seq.
func (c *packetCache) put(seq uint16, pkt []byte) {
	if len(pkt) > maxPacket {
		return
	}
	c.mu.Lock()
	s := &c.slots[int(seq)&(len(c.slots)-1)]
	s.seq, s.valid, s.n = seq, true, copy(s.buf[:], pkt)
	c.mu.Unlock()
}

// get copies the packet stored under seq into dst and returns its length,
// or 0 when it is no longer (or never was) in the cache.
func (c *packetCache) get(seq uint16, dst []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[int(seq)&(len(c.slots)-1)]
	if !s.valid || s.seq != seq {
		return 0
	}
	return copy(dst, s.buf[:s.n])
}
