package compositor

import (
	"encoding/binary"
	"sync"
)

// The audio the decoders write and the encoder reads: 48 kHz stereo s16le,
// mixed 20 ms at a time.
const (
	sampleRate   = 48000
	channels     = 2
	chunkFrames  = sampleRate / 50 // 20 ms
	chunkSamples = chunkFrames * channels
	chunkBytes   = chunkSamples * 2

	// A source is heard once ringPrime of its audio is waiting, so that
	// the jitter of its packets does not starve the mix at every block;
	// past ringMax the oldest audio is dropped down to ringKeep, which
	// bounds the latency a source that runs fast (or bursts) adds.
	ringPrime = 3 * chunkFrames
	ringMax   = 10 * chunkFrames
	ringKeep  = 4 * chunkFrames
	// ringCap holds ringMax and one more read of a decoder's pipe.
	ringCap = (ringMax + 2*chunkFrames + pcmReadBytes/4) * channels
	// pcmReadBytes is how much a reader takes from a decoder's pipe at once.
	pcmReadBytes = 4096
)

// pcmRing is the audio of one source waiting to be mixed: interleaved
// stereo samples in a fixed circular buffer.
type pcmRing struct {
	mu        sync.Mutex
	buf       [ringCap]int16
	start, n  int // in samples
	primed    bool
	underruns int64
	dropped   int64 // frames
}

// writePCM appends the s16le stereo frames of b (a whole number of them).
func (r *pcmRing) writePCM(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(b) >= 4 {
		// Make room first: beyond ringMax, drop the oldest down to ringKeep.
		if r.n+len(b)/2 > ringMax*channels {
			keep := ringKeep * channels
			if in := len(b) / 2; in >= keep {
				keep = 0
			} else {
				keep -= in
			}
			if r.n > keep {
				drop := r.n - keep
				r.start = (r.start + drop) % ringCap
				r.n = keep
				r.dropped += int64(drop / channels)
			}
		}
		m := min(len(b)/2, ringCap-r.n)
		m -= m % channels
		if m == 0 {
			return
		}
		end := (r.start + r.n) % ringCap
		for i := range m {
			r.buf[(end+i)%ringCap] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
		r.n += m
		b = b[2*m:]
	}
}

// mixInto adds the next 20 ms of the source to acc (chunkSamples long),
// when the source is being heard and has them; a source that runs dry is
// silent until ringPrime has piled up again.
func (r *pcmRing) mixInto(acc []int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.primed {
		if r.n < ringPrime*channels {
			return
		}
		r.primed = true
	}
	if r.n < chunkSamples {
		r.primed = false
		r.underruns++
		return
	}
	acc = acc[:chunkSamples]
	for i := range acc {
		acc[i] += int32(r.buf[(r.start+i)%ringCap])
	}
	r.start = (r.start + chunkSamples) % ringCap
	r.n -= chunkSamples
}

func (r *pcmRing) counts() (underruns, dropped int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.underruns, r.dropped
}

// mixer sums the sources of a scene into one 20 ms block.
type mixer struct {
	acc [chunkSamples]int32
}

func newMixer() *mixer { return &mixer{} }

// mix writes the next 20 ms of sc's sources, summed with saturation, into
// dst as s16le (chunkBytes long).
func (m *mixer) mix(dst []byte, sc *scene) {
	clear(m.acc[:])
	for _, in := range sc.mixed {
		if r := in.samples(); r != nil {
			r.mixInto(m.acc[:])
		}
	}
	for i, v := range m.acc {
		v = min(max(v, -32768), 32767)
		binary.LittleEndian.PutUint16(dst[2*i:], uint16(int16(v)))
	}
}
