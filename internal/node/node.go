// Package node assembles one Parley node from a Config: the store, the
// default project, the REST API and the HTTP edge. `parley serve` runs it;
// integration tests start it in-process.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/parleyhq/parley/apps/live"
	"github.com/parleyhq/parley/apps/meet"
	"github.com/parleyhq/parley/internal/api"
	"github.com/parleyhq/parley/internal/archive"
	"github.com/parleyhq/parley/internal/broadcast"
	"github.com/parleyhq/parley/internal/browsersdk"
	"github.com/parleyhq/parley/internal/compositor"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/signaling"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
	"github.com/parleyhq/parley/internal/turn"
	"github.com/parleyhq/parley/internal/web"
	"github.com/parleyhq/parley/internal/webhook"
)

// Node is one running Parley server.
type Node struct {
	cfg   config.Config
	log   *slog.Logger
	store store.Store
	web   *web.Server
	ln    net.Listener
	// debugLn serves profiles when the config names a debug address.
	debugLn net.Listener
	sfu     *sfu.SFU
	turn    *turn.Server
	sig     *signaling.Server
	hooks   *webhook.Dispatcher
	// archives records sessions into the data folder's archives/.
	archives *archive.Manager
	// broadcasts streams sessions live, HLS in the data folder's
	// broadcasts/.
	broadcasts *broadcast.Manager
	// Sessions are the live sessions of this node.
	Sessions *session.Registry
	// Project is the project ensured at start: the one from --api-key, or
	// the first one in the store (created on first start).
	Project store.Project
	// base is URL() once the listener exists, for goroutines that may run
	// before it does.
	base atomic.Value
	// SecretFile is where a generated secret was written, or "".
	SecretFile string
}

// OpenStore opens the embedded store in the data folder, creating both.
func OpenStore(ctx context.Context, data string) (*sqlite.Store, error) {
	if err := os.MkdirAll(data, 0o750); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(data, "parley.db"))
}

// New opens the store, makes sure a project exists and binds the listen
// address, but serves nothing until Run.
// version is the one printed by `parley version`; the browser SDK
// carries it too.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, version string) (*Node, error) {
	st, err := OpenStore(ctx, cfg.Data)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, store: st}
	if err := n.ensureProject(ctx); err != nil {
		st.Close()
		return nil, err
	}

	var publicIPs []string
	if cfg.PublicIP != "" {
		publicIPs = []string{cfg.PublicIP}
	}
	n.sfu, err = sfu.New(sfu.Config{UDPPort: cfg.RTCUDPPort, TCPPort: cfg.RTCTCPPort, PublicIPs: publicIPs, Log: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	n.turn, err = turn.New(turn.Config{
		Port: cfg.TURNPort, TLSPort: cfg.TURNTLSPort, CertFile: cfg.TURNCert, KeyFile: cfg.TURNKey,
		Secret: cfg.TURNSecret, SecretFile: filepath.Join(cfg.Data, "turn.secret"), TTL: cfg.TURNTTL,
		PublicIP: cfg.PublicIP, ListenAddr: cfg.Addr, PublicURL: cfg.PublicURL, Log: log,
		MediaPorts: []int{n.sfu.UDPAddr().Port},
	})
	if err != nil {
		n.sfu.Close()
		st.Close()
		return nil, err
	}
	// The observers see every event of every session: the SFU closer, the
	// session monitoring webhooks and the archives.
	n.hooks = webhook.New(st, webhook.Options{Log: log})
	observeMedia := signaling.ObserveSessions(n.sfu)
	n.Sessions = session.NewRegistry(session.Options{OnCreate: func(s *session.Session) {
		observeMedia(s)
		n.hooks.Observe(s)
		n.archives.Observe(s)
		n.broadcasts.Observe(s)
	}})
	if n.archives, err = newArchives(ctx, cfg, st, n.Sessions, n.sfu, log, n.notifyArchive); err != nil {
		n.hooks.Close()
		n.turn.Close()
		n.sfu.Close()
		st.Close()
		return nil, err
	}
	n.broadcasts, err = broadcast.New(ctx, broadcast.Config{Store: st, Sessions: n.Sessions, Media: sfuSources{n.sfu},
		Dir: filepath.Join(cfg.Data, "broadcasts"), Log: log, OnChange: n.notifyBroadcast})
	if err != nil {
		n.archives.Close()
		n.hooks.Close()
		n.turn.Close()
		n.sfu.Close()
		st.Close()
		return nil, err
	}
	n.sig = &signaling.Server{Store: st, Sessions: n.Sessions, SFU: n.sfu, Log: log, ICEServers: iceServers(n.turn)}

	sdk, err := browsersdk.BuildEmbedded(version)
	if err != nil {
		n.broadcasts.Close()
		n.archives.Close()
		n.turn.Close()
		n.sfu.Close()
		st.Close()
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), n.hooks, n.archives, n.sfu)
	auth := &project.Authenticator{Lookup: st.Project}
	rest := api.New(st, auth, log, reg)
	rest.Sessions = n.Sessions
	rest.Archives = n.archives
	rest.Broadcasts = n.broadcasts
	rest.PublicURL = cfg.PublicURL
	meetApp := meet.New(meet.Options{Store: st, APIKey: n.Project.APIKey, APISecret: n.Project.Secret, APIURL: n.selfURL, Log: log})
	liveApp := live.New(live.Options{Store: st, APIKey: n.Project.APIKey, APISecret: n.Project.Secret, APIURL: n.selfURL, Log: log})
	n.web = web.New(web.Options{
		Log:      log,
		Registry: reg,
		Health: func(ctx context.Context) error {
			_, err := st.Project(ctx, n.Project.APIKey)
			return err
		},
		Mount: []func(*http.ServeMux){rest.Routes, n.sig.Routes, sdk.Routes, browsersdk.LoggingRoutes, meetApp.Routes, liveApp.Routes},
	})

	n.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		n.broadcasts.Close()
		n.archives.Close()
		n.turn.Close()
		n.sfu.Close()
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if cfg.DebugAddr != "" {
		n.debugLn, err = net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			n.ln.Close()
			n.broadcasts.Close()
			n.archives.Close()
			n.turn.Close()
			n.sfu.Close()
			st.Close()
			return nil, fmt.Errorf("debug listener on %s: %w", cfg.DebugAddr, err)
		}
	}
	n.base.Store(n.URL())
	return n, nil
}

// ensureProject makes the configured project exist with its credentials,
// or, with none configured, creates one on the first start.
func (n *Node) ensureProject(ctx context.Context) error {
	if n.cfg.APIKey != "" {
		p := store.Project{APIKey: n.cfg.APIKey, Secret: n.cfg.APISecret, Name: "configured", CreatedAt: time.Now()}
		if old, err := n.store.Project(ctx, p.APIKey); err == nil {
			p.CreatedAt, p.Name = old.CreatedAt, old.Name
		}
		if err := n.store.PutProject(ctx, p); err != nil {
			return fmt.Errorf("configured project: %w", err)
		}
		n.Project = p
		return nil
	}
	list, err := n.store.Projects(ctx)
	if err != nil {
		return err
	}
	if len(list) > 0 {
		n.Project = list[0]
		n.SecretFile = secretFile(n.cfg.Data, list[0].APIKey)
		if _, err := os.Stat(n.SecretFile); err != nil {
			n.SecretFile = ""
		}
		return nil
	}
	p, file, err := CreateProject(ctx, n.store, n.cfg.Data, "default")
	if err != nil {
		return err
	}
	n.Project, n.SecretFile = p, file
	return nil
}

// CreateProject makes a project with a fresh key and secret and writes the
// secret to a file readable only by its owner.
func CreateProject(ctx context.Context, st store.Store, data, name string) (store.Project, string, error) {
	for range 5 {
		p := store.Project{APIKey: project.NewAPIKey(), Secret: project.NewSecret(), Name: name, CreatedAt: time.Now()}
		err := st.CreateProject(ctx, p)
		if errors.Is(err, store.ErrExists) {
			continue // a random key collided; draw again
		}
		if err != nil {
			return p, "", err
		}
		file := secretFile(data, p.APIKey)
		if err := os.WriteFile(file, []byte(p.Secret+"\n"), 0o600); err != nil {
			return p, "", fmt.Errorf("write secret: %w", err)
		}
		return p, file, nil
	}
	return store.Project{}, "", errors.New("could not draw a free API key")
}

func secretFile(data, apiKey string) string {
	return filepath.Join(data, "project-"+apiKey+".secret")
}

// URL is the base URL the node answers on.
func (n *Node) URL() string {
	if n.cfg.PublicURL != "" {
		return n.cfg.PublicURL
	}
	return "http://" + n.ln.Addr().String()
}

// selfURL is where the node's own apps reach its REST API: the listen
// address, on loopback when it listens on every interface.
func (n *Node) selfURL() string {
	addr, ok := n.ln.Addr().(*net.TCPAddr)
	if !ok {
		return "http://" + n.ln.Addr().String()
	}
	ip := addr.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(ip.String(), fmt.Sprint(addr.Port))
}

// Handler is the node's HTTP handler.
func (n *Node) Handler() http.Handler { return n.web.Handler() }

// PrintBanner tells the operator what runs where.
func (n *Node) PrintBanner(w io.Writer, version string) {
	u := n.URL()
	fmt.Fprintf(w, "Parley %s is serving on %s\n", version, u)
	fmt.Fprintf(w, "  REST API (OpenTok apiUrl)  %s\n", u)
	fmt.Fprintf(w, "  browser SDK                %s/v2/js/opentok.js\n", u)
	fmt.Fprintf(w, "  Meet (meetings)            %s/\n", u)
	fmt.Fprintf(w, "  Live (shows, library)      %s/live\n", u)
	fmt.Fprintf(w, "  signaling (WebSocket)      %s%s\n", "ws"+strings.TrimPrefix(u, "http"), signaling.Path)
	fmt.Fprintf(w, "  media (ICE)                udp %d", n.sfu.UDPAddr().Port)
	if a := n.sfu.TCPAddr(); a != nil {
		fmt.Fprintf(w, ", tcp %d", a.(*net.TCPAddr).Port)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  TURN                       %s udp %d, tcp %d", n.turn.Host(), n.turn.UDPAddr().Port, n.turn.TCPAddr().Port)
	if a := n.turn.TLSAddr(); a != nil {
		fmt.Fprintf(w, ", tls %d", a.Port)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  health                     %s/healthz\n", u)
	fmt.Fprintf(w, "  metrics                    %s/metrics\n", u)
	fmt.Fprintf(w, "  data folder                %s\n", n.cfg.Data)
	fmt.Fprintf(w, "  API key                    %s\n", n.Project.APIKey)
	switch {
	case n.cfg.APIKey != "":
		fmt.Fprintf(w, "  API secret                 the one given with --api-secret / PARLEY_API_SECRET\n")
	case n.SecretFile != "":
		fmt.Fprintf(w, "  API secret                 in %s\n", n.SecretFile)
	default:
		fmt.Fprintf(w, "  API secret                 parley project show %s --data %s\n", n.Project.APIKey, n.cfg.Data)
	}
}

// newArchives opens the archive folder of the data folder and finishes
// the archives a previous run left recording (a crash, a kill -9): none
// stays started. Download links are signed with a secret kept beside the
// store, so that links handed out before a restart keep working.
func newArchives(ctx context.Context, cfg config.Config, st store.Store, sessions *session.Registry, media *sfu.SFU, log *slog.Logger, onChange func(*archive.Manager, store.Archive)) (*archive.Manager, error) {
	secret, err := turn.LoadOrCreateSecret(filepath.Join(cfg.Data, "archive-links.secret"))
	if err != nil {
		return nil, fmt.Errorf("archive download links: %w", err)
	}
	var m *archive.Manager
	var ready sync.WaitGroup
	ready.Add(1)
	m, err = archive.New(archive.Config{
		Store: st, Sessions: sessions, Media: archive.SFUMedia(media), Dir: filepath.Join(cfg.Data, "archives"),
		Secret: []byte(secret), PublicURL: cfg.PublicURL, Log: log,
		// Changes come from the Manager's goroutines, possibly before New
		// has returned m (recovery): they wait for it.
		OnChange: func(a store.Archive) {
			ready.Wait()
			onChange(m, a)
		},
	})
	ready.Done()
	if err != nil {
		return nil, err
	}
	if err := m.Recover(ctx); err != nil {
		m.Close()
		return nil, fmt.Errorf("archives left recording: %w", err)
	}
	return m, nil
}

// notifyArchive sends an archive's status change to its project's
// archiveStatus webhook, with the archive object the REST API shows.
func (n *Node) notifyArchive(m *archive.Manager, a store.Archive) {
	if m == nil {
		return
	}
	// Until the listener exists (archives recovered at start-up) only a
	// configured public URL can make a download link.
	base, _ := n.base.Load().(string)
	if base == "" {
		base = n.cfg.PublicURL
	}
	url := ""
	if base != "" {
		url = m.URL(a, base)
	}
	body, err := json.Marshal(api.ArchiveObject(a, url))
	if err != nil {
		n.log.Error("archive status callback", "archive", a.ID, "err", err)
		return
	}
	n.hooks.NotifyArchive(a.APIKey, a.SessionID, a.ID, body)
}

// sfuSources are the SFU's streams as a broadcast's compositor takes
// them.
type sfuSources struct{ s *sfu.SFU }

func (m sfuSources) Stream(id string) (compositor.Source, bool) {
	st, ok := m.s.Stream(id)
	if !ok {
		return nil, false
	}
	return st, true
}

// notifyBroadcast sends a broadcast's status change to its project's
// broadcastStatus webhook, with the broadcast object the REST API shows.
func (n *Node) notifyBroadcast(b broadcast.Broadcast) {
	base, _ := n.base.Load().(string)
	if n.cfg.PublicURL != "" {
		base = n.cfg.PublicURL
	}
	body, err := json.Marshal(api.BroadcastObject(b, base))
	if err != nil {
		n.log.Error("broadcast status callback", "broadcast", b.ID, "err", err)
		return
	}
	n.hooks.NotifyBroadcast(b.APIKey, b.SessionID, b.ID, body)
}

// Run serves until ctx ends, then shuts down gracefully: HTTP stops
// taking requests, signaling connections close (their clients see
// networkDisconnected and may reconnect elsewhere), webhook deliveries
// still queued are abandoned, TURN relays and media stop, and the store
// closes.
func (n *Node) Run(ctx context.Context) error {
	var debugErr error
	debugDone := make(chan struct{})
	debugCtx, stopDebug := context.WithCancel(ctx)
	go func() {
		defer close(debugDone)
		if n.debugLn != nil {
			debugErr = serveDebug(debugCtx, n.debugLn)
		}
	}()
	err := n.web.Serve(ctx, n.ln, n.cfg.ShutdownTimeout)
	stopDebug()
	<-debugDone
	err = errors.Join(err, debugErr)
	n.sig.Close()
	// After signaling, whose goodbyes queue the last events; before the
	// store, which records the archives stopped and the attempts Close
	// interrupts.
	broadcastsErr := n.broadcasts.Close()
	archivesErr := n.archives.Close()
	n.hooks.Close()
	return errors.Join(err, broadcastsErr, archivesErr, n.turn.Close(), n.sfu.Close(), n.store.Close())
}

// iceServers tells each new connection to use the node's TURN server.
func iceServers(t *turn.Server) func(string) []signaling.ICEServer {
	return func(connectionID string) []signaling.ICEServer {
		var out []signaling.ICEServer
		for _, s := range t.ICEServers(connectionID) {
			out = append(out, signaling.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
		return out
	}
}

// SFU is the node's media plane.
func (n *Node) SFU() *sfu.SFU { return n.sfu }
