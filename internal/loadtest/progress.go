package loadtest

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress writes the live view of a run. On a terminal the current line
// is redrawn in place; elsewhere (a file, a pipe, a CI log) each update
// is a line of its own, once a second.
type progress struct {
	w   io.Writer // nil: say nothing
	tty bool

	mu   sync.Mutex
	open bool // a line is drawn and not yet ended (terminal only)
}

// show replaces the live line (terminal) or appends it.
func (p *progress) show(line string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.open = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// note prints a message on a line of its own, above the live line.
func (p *progress) note(msg string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.open = false
	}
	fmt.Fprintln(p.w, "loadtest: "+msg)
}

// end finishes the live line, so that what follows starts on a new one.
func (p *progress) end() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

// bar draws done of total as a bar of width cells.
func bar(done, total, width int) string {
	if total <= 0 {
		total = 1
	}
	n := min(width, done*width/total)
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}

// startMonitor samples the run once a second into the timeline and keeps
// the live view current until the returned function is called (it may
// be called more than once; the first call waits for the monitor to
// finish).
func (r *run) startMonitor() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer r.out.end()
		redraw := time.Second
		if r.out.tty {
			redraw = 200 * time.Millisecond // a smooth bar while joining
		}
		tick := time.NewTicker(redraw)
		defer tick.Stop()
		prev := r.take(false)
		var last Sample
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if time.Since(prev.at) >= time.Second-redraw/2 {
				cur := r.take(false)
				last = r.sample(prev, cur)
				prev = cur
			}
			r.out.show(r.liveLine(last))
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}

// sample is the timeline's point for the second between prev and cur.
func (r *run) sample(prev, cur snap) Sample {
	secs := cur.at.Sub(prev.at).Seconds()
	r.mu.Lock()
	s := Sample{T: cur.at.Sub(r.start).Seconds(), Joined: r.joined, Errors: r.nerrs}
	r.mu.Unlock()
	s.Phase = "joining"
	if r.phase.Load() == phaseSteady {
		s.Phase = "steady"
	}
	var in, bytesIn, exp, recv uint64
	for k := range 2 {
		in += cur.c.packetsIn[k] - prev.c.packetsIn[k]
		bytesIn += cur.c.bytesIn[k] - prev.c.bytesIn[k]
		exp += cur.c.expected[k] - prev.c.expected[k]
		recv += cur.c.received[k] - prev.c.received[k]
	}
	s.PacketsInPerSec = rate(in, secs)
	s.BitsInPerSec = 8 * rate(bytesIn, secs)
	s.PacketsOutPerSec = rate(cur.c.packetsOut-prev.c.packetsOut, secs)
	s.BitsOutPerSec = 8 * rate(cur.c.bytesOut-prev.c.bytesOut, secs)
	if exp > recv {
		s.LossPercent = 100 * float64(exp-recv) / float64(exp)
	}
	v, a := cur.delays[0].minus(&prev.delays[0]), cur.delays[1].minus(&prev.delays[1])
	d := v.plus(&a)
	s.DelayP50Ms, s.DelayP99Ms = ms(d.percentile(50)), ms(d.percentile(99))
	if r.plan.ServerPID > 0 {
		if cur.serverErr != nil && r.serverErr == nil {
			r.serverErr = cur.serverErr // the first failure says why
		}
		if !cur.server.at.IsZero() && !prev.server.at.IsZero() {
			s.ServerCPUPercent = cpuPercent(prev.server, cur.server)
			s.ServerRSSMB = mb(cur.server.rss)
			r.serverMax = max(r.serverMax, cur.server.rss)
			if s.Phase == "steady" {
				r.steadyMax = max(r.steadyMax, cur.server.rss)
			}
		}
	}
	if !cur.client.at.IsZero() && !prev.client.at.IsZero() {
		s.ClientCPUPercent = cpuPercent(prev.client, cur.client)
		r.clientMax = max(r.clientMax, cur.client.rss)
	}
	if wall := cur.machine.at.Sub(prev.machine.at); wall > 0 && !prev.machine.at.IsZero() {
		s.MachineCPUPercent = 100 * float64(cur.machine.busy-prev.machine.busy) / float64(wall)
	}
	if len(r.timeline) < maxTimeline {
		r.timeline = append(r.timeline, s)
	}
	return s
}

// cpuPercent is the CPU a process used between two samples, in percent
// of one core (200 is two cores busy).
func cpuPercent(a, b procSample) float64 {
	wall := b.at.Sub(a.at)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.cpu-a.cpu) / float64(wall)
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// liveLine is the progress line: a bar while clients join, the last
// second's totals once media flows. On a terminal it is kept within 79
// columns, since a line that wraps cannot be redrawn in place.
func (r *run) liveLine(s Sample) string {
	r.mu.Lock()
	settled, joined, nerrs := r.settled, r.joined, r.nerrs
	r.mu.Unlock()
	elapsed := time.Since(r.start).Seconds()
	joining := r.phase.Load() == phaseJoining
	total := r.clients()
	if r.out.tty {
		var line string
		if joining {
			line = fmt.Sprintf("joining %s %d/%d  errors %d  %.0fs", bar(settled, total, 30), joined, total, nerrs, elapsed)
		} else {
			line = fmt.Sprintf("%.0fs in %.0f pkt/s, out %.0f pkt/s, loss %.2f%%, delay %.1f/%.1f ms",
				elapsed, s.PacketsInPerSec, s.PacketsOutPerSec, s.LossPercent, s.DelayP50Ms, s.DelayP99Ms)
			if r.plan.ServerPID > 0 {
				line += fmt.Sprintf(", cpu %.0f%%", s.ServerCPUPercent)
			}
			if nerrs > 0 {
				line = fmt.Sprintf("%d errors! ", nerrs) + line // first, where truncation cannot hide it
			}
		}
		if len(line) > 79 {
			line = line[:79]
		}
		return line
	}
	var b strings.Builder
	state := "running"
	if joining {
		state = "joining"
	}
	fmt.Fprintf(&b, "%4.0fs %s %d/%d  errors %d", elapsed, state, joined, total, nerrs)
	if s.T == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "  | in %.0f pkt/s %s  out %.0f pkt/s %s  loss %.2f%%  delay p50 %.1f p99 %.1f ms",
		s.PacketsInPerSec, bits(s.BitsInPerSec), s.PacketsOutPerSec, bits(s.BitsOutPerSec),
		s.LossPercent, s.DelayP50Ms, s.DelayP99Ms)
	if r.plan.ServerPID > 0 {
		fmt.Fprintf(&b, "  server %.0f%% cpu %.0f MB", s.ServerCPUPercent, s.ServerRSSMB)
	}
	return b.String()
}
