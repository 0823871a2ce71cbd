package compositor

import (
	"encoding/binary"
	"testing"
)

// pcm returns n stereo frames of value v as s16le.
func pcm(n int, v int16) []byte {
	b := make([]byte, 4*n)
	for i := range 2 * n {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

func TestRingPrimesAndUnderruns(t *testing.T) {
	var r pcmRing
	acc := make([]int32, chunkSamples)
	take := func() int32 {
		clear(acc)
		r.mixInto(acc)
		return acc[0]
	}
	r.writePCM(pcm(2*chunkFrames, 7))
	if v := take(); v != 0 {
		t.Fatalf("heard %d before %d frames piled up", v, ringPrime)
	}
	r.writePCM(pcm(chunkFrames, 7))
	for i := range 3 {
		if v := take(); v != 7 {
			t.Fatalf("block %d: %d", i, v)
		}
	}
	if v := take(); v != 0 {
		t.Fatalf("dry ring gave %d", v)
	}
	if u, _ := r.counts(); u != 1 {
		t.Fatalf("%d underruns", u)
	}
	r.writePCM(pcm(chunkFrames, 7)) // not primed again yet
	if v := take(); v != 0 {
		t.Fatalf("heard %d before priming again", v)
	}
}

// Audio piling up beyond ringMax is dropped from the oldest, down to
// ringKeep: the newest stays.
func TestRingBoundsLatency(t *testing.T) {
	var r pcmRing
	for i := range 30 {
		r.writePCM(pcm(chunkFrames, int16(i)))
	}
	_, dropped := r.counts()
	if r.n > ringMax*channels || dropped == 0 {
		t.Fatalf("%d samples kept, %d dropped", r.n, dropped)
	}
	acc := make([]int32, chunkSamples)
	var last int32
	for r.n >= chunkSamples {
		clear(acc)
		r.mixInto(acc)
		last = acc[chunkSamples-1]
	}
	if last != 29 {
		t.Fatalf("newest block %d, want 29", last)
	}
	// One write larger than the ring keeps its end.
	r.writePCM(pcm(3*ringMax, 5))
	if r.n > ringMax*channels || r.buf[(r.start+r.n-1)%ringCap] != 5 {
		t.Fatalf("%d samples after a huge write", r.n)
	}
}

func TestMixSaturates(t *testing.T) {
	in := func(v int16) *input {
		f := &feed{ring: &pcmRing{}}
		f.ring.writePCM(pcm(ringPrime, v))
		return &input{audio: f}
	}
	m := newMixer()
	out := make([]byte, chunkBytes)
	m.mix(out, &scene{mixed: []*input{in(30000), in(20000), in(-1000), {}}})
	if v := int16(binary.LittleEndian.Uint16(out)); v != 32767 {
		t.Errorf("loud mix %d, want 32767", v)
	}
	m.mix(out, &scene{mixed: []*input{in(-30000), in(-20000)}})
	if v := int16(binary.LittleEndian.Uint16(out[chunkBytes-2:])); v != -32768 {
		t.Errorf("loud negative mix %d, want -32768", v)
	}
	m.mix(out, &scene{})
	for _, b := range out {
		if b != 0 {
			t.Fatal("no sources: not silent")
		}
	}
}
