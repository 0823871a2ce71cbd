package compositor

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkCompose paints a 1280x720 canvas from four sources, one per
// quarter, as a broadcast of four cameras does: VGA, 720p, QVGA and a
// phone held upright, so that every box scales.
func BenchmarkCompose(b *testing.B) {
	for _, fit := range []string{FitCover, FitContain} {
		b.Run(fit, func(b *testing.B) {
			const w, h = 1280, 720
			c := &Compositor{canvas: newCanvas(w, h)}
			sc := &scene{}
			for i, size := range [][2]int{{640, 480}, {1280, 720}, {320, 240}, {480, 640}} {
				src := columns(size[0], size[1], func(x int) byte { return byte(16 + x%200) })
				box := Box{X: i % 2 * w / 2, Y: i / 2 * h / 2, W: w / 2, H: h / 2, Fit: fit}
				sc.placed = append(sc.placed, newPlacement(drawInput(c, fmt.Sprint(i), src), box))
			}
			dst := newPicture(w, h)
			now := time.Now()
			c.canvas.compose(dst, sc, now) // the tables are made once
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				c.canvas.compose(dst, sc, now)
			}
		})
	}
}

// BenchmarkMix mixes 20 ms of four sources.
func BenchmarkMix(b *testing.B) {
	sc := &scene{}
	for range 4 {
		sc.mixed = append(sc.mixed, &input{audio: &feed{ring: &pcmRing{}}})
	}
	m := newMixer()
	out := make([]byte, chunkBytes)
	block := pcm(chunkFrames, 1000)
	b.ReportAllocs()
	for b.Loop() {
		for _, in := range sc.mixed {
			in.audio.ring.writePCM(block)
		}
		m.mix(out, sc)
	}
}
