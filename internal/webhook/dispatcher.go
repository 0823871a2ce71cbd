package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
)

// Defaults of Options.
const (
	DefaultTimeout        = 5 * time.Second
	DefaultQueueLen       = 1024
	DefaultMaxConcurrent  = 64
	DefaultKeepDeliveries = 1000
)

// defaultRetries are the waits before the second to fifth attempts: with
// 5 s per attempt, an event is given up about 40 s after it happened. The
// first retry comes after a second, so that a receiver that failed once
// (a restart, a deploy) barely delays the session's later events.
var defaultRetries = []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

// Store is the part of store.Store a Dispatcher needs.
type Store interface {
	Webhook(ctx context.Context, id string) (store.Webhook, error)
	Webhooks(ctx context.Context, apiKey string) ([]store.Webhook, error)
	AddDelivery(ctx context.Context, d store.Delivery) (int64, error)
	PruneDeliveries(ctx context.Context, apiKey string, keep int) error
}

// Options tune a Dispatcher. The zero value is ready to use.
type Options struct {
	// Log receives drops, given-up events and store failures; nil
	// discards them.
	Log *slog.Logger
	// Client sends the requests; nil means one that does not follow
	// redirects (a redirected POST would turn into a GET). Attempts are
	// bounded by Timeout, not by the client.
	Client *http.Client
	// Now is the clock of event timestamps, signatures and the log; nil
	// means time.Now.
	Now func() time.Time
	// Retries are the waits before each retry: an event gets
	// len(Retries)+1 attempts. nil means 1 s, 2 s, 4 s, 8 s; an empty
	// non-nil slice means a single attempt.
	Retries []time.Duration
	// Timeout bounds each attempt, from dialling to the end of the
	// answer's headers; 0 means DefaultTimeout.
	Timeout time.Duration
	// QueueLen caps the events waiting per session; beyond it the oldest
	// waiting event is dropped. 0 means DefaultQueueLen.
	QueueLen int
	// MaxConcurrent caps the requests in flight over all sessions; 0 means
	// DefaultMaxConcurrent.
	MaxConcurrent int
	// KeepDeliveries is how many attempts of each project the delivery
	// log keeps; 0 means DefaultKeepDeliveries.
	KeepDeliveries int
}

// Stats count what a Dispatcher did since it was made.
type Stats struct {
	// Delivered counts events a receiver accepted (2xx).
	Delivered uint64
	// FailedAttempts counts attempts without a 2xx answer.
	FailedAttempts uint64
	// QueueFull counts events dropped because their session's queue was
	// full.
	QueueFull uint64
	// GaveUp counts events whose every attempt failed.
	GaveUp uint64
	// Abandoned counts events queued or in flight when the Dispatcher
	// closed.
	Abandoned uint64
}

// Dispatcher delivers the session monitoring events of the sessions it
// observes. Its methods are safe for concurrent use.
type Dispatcher struct {
	store    Store
	log      *slog.Logger
	client   *http.Client
	now      func() time.Time
	retries  []time.Duration
	timeout  time.Duration
	queueLen int
	keep     int

	// sem holds a token per request in flight.
	sem chan struct{}
	// ctx ends at Close: requests in flight and waits between attempts
	// stop.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	queues map[string]*queue // by session id; present while it has a worker
	closed bool

	delivered, failed, queueFull, gaveUp, abandoned atomic.Uint64
}

// queue is the events of one session waiting for delivery; a single
// worker goroutine drains it, which is what keeps them in order.
type queue struct {
	jobs []job
	// unlogged counts drops the worker has not logged yet: logging is
	// I/O, which must not happen on the session's path.
	unlogged int
}

// job is one event to deliver.
type job struct {
	sessionID, apiKey string
	ev                session.Event
	at                time.Time
	// queue orders delivery: the session's id for session events, the
	// archive's for archive status changes.
	queue string
	// group is the webhooks' group; payload, when set, is the body
	// (archive status changes), else the session event is encoded.
	group   string
	payload []byte
}

// New returns a Dispatcher on st. It starts no goroutine until an event
// is queued.
func New(st Store, o Options) *Dispatcher {
	d := &Dispatcher{
		store:    st,
		log:      o.Log,
		client:   o.Client,
		now:      o.Now,
		retries:  o.Retries,
		timeout:  o.Timeout,
		queueLen: o.QueueLen,
		keep:     o.KeepDeliveries,
		queues:   make(map[string]*queue),
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.client == nil {
		d.client = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.retries == nil {
		d.retries = defaultRetries
	}
	if d.timeout <= 0 {
		d.timeout = DefaultTimeout
	}
	if d.queueLen <= 0 {
		d.queueLen = DefaultQueueLen
	}
	if d.keep <= 0 {
		d.keep = DefaultKeepDeliveries
	}
	n := o.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	d.sem = make(chan struct{}, n)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// Observe follows session s; it is a session.Options.OnCreate hook. The
// session's project is the API key its id carries; a session whose id does
// not parse belongs to no project and is not followed.
func (d *Dispatcher) Observe(s *session.Session) {
	id, err := session.ParseID(s.ID())
	if err != nil || id.APIKey == "" {
		return
	}
	s.Observe(sink{d: d, sessionID: s.ID(), apiKey: id.APIKey})
}

// sink is the observer of one session.
type sink struct {
	d                 *Dispatcher
	sessionID, apiKey string
}

// Send queues ev if it is a monitored event. It runs under the session's
// lock, so it only takes the Dispatcher's lock briefly and never waits.
func (k sink) Send(ev session.Event) {
	// An event addressed to one connection is the replay a joiner gets of
	// what already happened, not something new.
	if ev.Target != "" || !monitored(ev.Kind) {
		return
	}
	k.d.enqueue(job{sessionID: k.sessionID, apiKey: k.apiKey, ev: ev, at: k.d.now(),
		queue: k.sessionID, group: GroupSessionMonitoring})
}

// NotifyArchive queues an archive status change for project apiKey's
// archiveStatus webhook: payload is the archive object (opentok-rest.md
// §7.2) as JSON. Changes of one archive are delivered in order. It never
// blocks.
func (d *Dispatcher) NotifyArchive(apiKey, sessionID, archiveID string, payload []byte) {
	d.enqueue(job{sessionID: sessionID, apiKey: apiKey, at: d.now(),
		queue: "archive/" + archiveID, group: GroupArchiveStatus, payload: payload})
}

// NotifyBroadcast queues a broadcast status change for project apiKey's
// broadcastStatus webhook: payload is the broadcast object
// (opentok-rest.md §7.3) as JSON, in order per broadcast. It never
// blocks.
func (d *Dispatcher) NotifyBroadcast(apiKey, sessionID, broadcastID string, payload []byte) {
	d.enqueue(job{sessionID: sessionID, apiKey: apiKey, at: d.now(),
		queue: "broadcast/" + broadcastID, group: GroupBroadcastStatus, payload: payload})
}

func (d *Dispatcher) enqueue(j job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		d.abandoned.Add(1)
		return
	}
	q := d.queues[j.queue]
	start := q == nil
	if start {
		q = &queue{}
		d.queues[j.queue] = q
	}
	if len(q.jobs) >= d.queueLen {
		q.jobs[0] = job{}
		q.jobs = q.jobs[1:]
		q.unlogged++
		d.queueFull.Add(1)
	}
	q.jobs = append(q.jobs, j)
	if start {
		d.wg.Add(1)
		go d.run(j.queue, q)
	}
}

// run delivers the events of one queue (a session's, or an archive's),
// one at a time, until it is empty or the Dispatcher closes.
func (d *Dispatcher) run(key string, q *queue) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(q.jobs) == 0 || d.closed {
			delete(d.queues, key)
			d.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs[0] = job{}
		q.jobs = q.jobs[1:]
		dropped := q.unlogged
		q.unlogged = 0
		d.mu.Unlock()

		if dropped > 0 {
			d.log.Warn("webhook queue full: dropped the oldest events", "session", key, "dropped", dropped)
		}
		d.deliver(j)
	}
}

// deliver sends j to every webhook of its project.
func (d *Dispatcher) deliver(j job) {
	hooks, err := d.store.Webhooks(d.ctx, j.apiKey)
	if err != nil {
		if d.ctx.Err() != nil {
			d.abandoned.Add(1)
			return
		}
		d.log.Error("webhook: reading the project's webhooks", "project", j.apiKey, "err", err)
		return
	}
	var body []byte
	var eventID string
	for _, h := range hooks {
		if h.Group != j.group {
			continue
		}
		if body == nil && j.payload != nil {
			body, eventID = j.payload, uuid.NewString()
		}
		if body == nil {
			if body, err = encode(j.sessionID, j.apiKey, j.ev, j.at); err != nil {
				d.log.Error("webhook: encoding an event", "event", j.ev.Kind, "err", err)
				return
			}
			eventID = uuid.NewString()
		}
		d.send(h, j, eventID, body)
	}
}

// send makes the attempts at one event for one webhook.
func (d *Dispatcher) send(h store.Webhook, j job, eventID string, body []byte) {
	for attempt := 1; ; attempt++ {
		if !d.acquire() {
			d.abandon(h, j, attempt)
			return
		}
		at := d.now()
		start := time.Now()
		status, err := d.post(h, eventID, attempt, body, at)
		elapsed := time.Since(start)
		d.release()

		rec := store.Delivery{WebhookID: h.ID, APIKey: h.APIKey, EventID: eventID, Event: string(j.ev.Kind),
			SessionID: j.sessionID, Attempt: attempt, Status: status, At: at, Duration: elapsed}
		closing := d.ctx.Err() != nil
		switch {
		case closing && err != nil:
			rec.Error = "abandoned: the server is shutting down"
		case errors.Is(err, context.DeadlineExceeded):
			rec.Error = "timeout after " + d.timeout.String()
		case err != nil:
			rec.Error = err.Error()
		}
		d.record(rec)

		if err == nil && status >= 200 && status <= 299 {
			d.delivered.Add(1)
			return
		}
		d.failed.Add(1)
		if closing {
			d.abandon(h, j, attempt)
			return
		}
		if attempt > len(d.retries) {
			d.gaveUp.Add(1)
			d.log.Warn("webhook: event not delivered, giving up", "webhook", h.ID, "url", h.URL,
				"session", j.sessionID, "event", j.ev.Kind, "attempts", attempt, "status", status, "err", rec.Error)
			return
		}
		d.log.Debug("webhook: attempt failed, will retry", "webhook", h.ID, "session", j.sessionID,
			"event", j.ev.Kind, "attempt", attempt, "status", status, "err", rec.Error)
		if !d.wait(d.retries[attempt-1]) {
			d.abandon(h, j, attempt+1)
			return
		}
		// The webhook may have been removed while we waited.
		cur, err := d.store.Webhook(d.ctx, h.ID)
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err == nil {
			h = cur
		}
	}
}

// post makes one attempt and returns the receiver's status.
func (d *Dispatcher) post(h store.Webhook, eventID string, attempt int, body []byte, at time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Parley-Webhook/1")
	req.Header.Set(SignatureHeader, Sign(h.Secret, at, body))
	req.Header.Set(EventIDHeader, eventID)
	req.Header.Set(AttemptHeader, strconv.Itoa(attempt))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Reading a little of the answer lets the connection be reused; a
	// receiver has nothing to say beyond its status.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// record adds an attempt to the delivery log and prunes the log.
func (d *Dispatcher) record(rec store.Delivery) {
	// Not d.ctx: the attempt that Close interrupted is recorded too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.store.AddDelivery(ctx, rec); err != nil {
		// ErrNotFound: the webhook was removed while the request was out.
		if !errors.Is(err, store.ErrNotFound) {
			d.log.Error("webhook: recording a delivery", "webhook", rec.WebhookID, "err", err)
		}
		return
	}
	if err := d.store.PruneDeliveries(ctx, rec.APIKey, d.keep); err != nil {
		d.log.Error("webhook: pruning the delivery log", "project", rec.APIKey, "err", err)
	}
}

// abandon notes an event dropped at Close.
func (d *Dispatcher) abandon(h store.Webhook, j job, attempt int) {
	d.abandoned.Add(1)
	d.log.Warn("webhook: event abandoned at shutdown", "webhook", h.ID, "session", j.sessionID,
		"event", j.ev.Kind, "attempt", attempt)
}

func (d *Dispatcher) acquire() bool {
	select {
	case d.sem <- struct{}{}:
		return true
	case <-d.ctx.Done():
		return false
	}
}

func (d *Dispatcher) release() { <-d.sem }

// wait sleeps for dur, or until Close; it reports whether it slept.
func (d *Dispatcher) wait(dur time.Duration) bool {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-d.ctx.Done():
		return false
	}
}

// Close stops delivering: queued events are dropped, requests in flight
// and waits between attempts end (the interrupted attempts are recorded),
// and Close returns once every goroutine of the Dispatcher is gone.
// Sessions may keep sending events; they are counted as abandoned.
func (d *Dispatcher) Close() error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		n := 0
		for _, q := range d.queues {
			n += len(q.jobs)
			q.jobs = nil
		}
		if n > 0 {
			d.abandoned.Add(uint64(n))
			d.log.Warn("webhook: queued events abandoned at shutdown", "events", n)
		}
	}
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	return nil
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	return Stats{
		Delivered:      d.delivered.Load(),
		FailedAttempts: d.failed.Load(),
		QueueFull:      d.queueFull.Load(),
		GaveUp:         d.gaveUp.Load(),
		Abandoned:      d.abandoned.Load(),
	}
}

var (
	attemptsDesc = prometheus.NewDesc("parley_webhook_attempts_total",
		"Webhook delivery attempts, by result (delivered: a 2xx answer).", []string{"result"}, nil)
	droppedDesc = prometheus.NewDesc("parley_webhook_events_dropped_total",
		"Webhook events never delivered, by reason.", []string{"reason"}, nil)
)

// Describe implements prometheus.Collector.
func (d *Dispatcher) Describe(ch chan<- *prometheus.Desc) {
	ch <- attemptsDesc
	ch <- droppedDesc
}

// Collect implements prometheus.Collector.
func (d *Dispatcher) Collect(ch chan<- prometheus.Metric) {
	s := d.Stats()
	ch <- prometheus.MustNewConstMetric(attemptsDesc, prometheus.CounterValue, float64(s.Delivered), "delivered")
	ch <- prometheus.MustNewConstMetric(attemptsDesc, prometheus.CounterValue, float64(s.FailedAttempts), "failed")
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(s.QueueFull), "queue_full")
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(s.GaveUp), "gave_up")
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(s.Abandoned), "shutdown")
}
