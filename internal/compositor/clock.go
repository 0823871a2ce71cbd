package compositor

import "time"

const (
	// audioChunk is the mixing period.
	audioChunk = 20 * time.Millisecond
	// syncChunks is how many blocks of audio are left out at the start:
	// a source's audio waits in its ring (ringPrime, 60 ms) where its
	// pictures wait for the next frame slot (20 ms on average at 25 fps),
	// so without them the sound would sit about 40 ms after the picture
	// in the encoder's timeline.
	syncChunks = 2
)

// runClock paints a canvas at every frame slot and mixes a block at every
// 20 ms, on time with the wall clock from Start. Slots it could not fill
// on time (the clock or the encoder behind) are filled by the video
// writer with the previous canvas, up to a second's worth; beyond that
// they are dropped, and as much audio with them, so that audio and video
// stay together in the encoder's timeline. Audio left out is still mixed,
// so that the sources' rings move on.
func (c *Compositor) runClock() {
	defer close(c.clockDone)
	e := c.enc
	fps := int64(c.cfg.FPS)
	start := time.Now()
	var frames, chunks int64 // slots done
	var skip int64           // audio to leave out, in 1/fps of a sample
	if c.canvas != nil {
		skip = syncChunks * chunkFrames * fps
	}
	scratch := make([]byte, chunkBytes)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-timer.C:
		}
		now := time.Now()
		elapsed := int64(now.Sub(start))
		sc := c.scene.Load()
		next := time.Duration(1<<62 - 1)
		if c.canvas != nil {
			due := elapsed*fps/int64(time.Second) + 1
			if k := due - frames; k > 0 {
				frames = due
				skip += c.frameSlots(k, sc, now) * sampleRate
			}
			next = min(next, time.Duration(frames*int64(time.Second)/fps))
		}
		if c.mixer != nil {
			due := elapsed/int64(audioChunk) + 1
			for ; chunks < due; chunks++ {
				if skip >= chunkFrames*fps {
					skip -= chunkFrames * fps
					c.mixer.mix(scratch, sc) // the sources move on all the same
					continue
				}
				select {
				case b := <-e.afree:
					c.mixer.mix(b, sc)
					e.aq <- b
					c.chunks.Add(1)
				default:
					c.mixer.mix(scratch, sc)
					c.audioDropped.Add(1)
				}
			}
			next = min(next, time.Duration(chunks)*audioChunk)
		}
		timer.Reset(next - time.Since(start))
	}
}

// frameSlots fills k due frame slots: a new canvas for the first when a
// buffer is free, and the writer's latest canvas again for the others, up
// to a second owed. It returns the number of slots dropped.
func (c *Compositor) frameSlots(k int64, sc *scene, now time.Time) int64 {
	e := c.enc
	select {
	case p := <-e.vfree:
		c.canvas.compose(p, sc, now)
		e.vq <- p
		c.frames.Add(1)
		k--
	default:
	}
	if k == 0 {
		return 0
	}
	owed := min(k, max(int64(c.cfg.FPS)-e.vdebt.Load(), 0))
	e.vdebt.Add(owed)
	c.late.Add(owed)
	c.dropped.Add(k - owed)
	return k - owed
}
