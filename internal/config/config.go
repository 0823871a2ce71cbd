// Package config turns flags, PARLEY_* environment variables and an optional
// YAML file into one Config. Flags win over the environment, the environment
// wins over the file, and the file wins over the defaults.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is everything `parley serve` needs to run.
type Config struct {
	// Addr is the HTTP listen address (API, signaling, SDK, apps).
	Addr string `yaml:"addr"`
	// Data is the folder holding the store, secrets and recordings.
	Data string `yaml:"data"`
	// APIKey and APISecret, when both set, make that project exist.
	APIKey    string `yaml:"api_key"`
	APISecret string `yaml:"api_secret"`
	// PublicURL is the base URL clients reach this node at; empty means
	// it is derived from the request.
	PublicURL string `yaml:"public_url"`
	// RTCUDPPort is the single UDP port all ICE traffic shares (0 = any).
	RTCUDPPort int `yaml:"rtc_udp_port"`
	// RTCTCPPort is the ICE-TCP fallback port (0 = any).
	RTCTCPPort int `yaml:"rtc_tcp_port"`
	// TURNPort is the embedded TURN server's port, UDP and TCP alike
	// (0 = any).
	TURNPort int `yaml:"turn_port"`
	// TURNTLSPort is the TURN-over-TLS (turns:) port, served only when
	// TURNCert and TURNKey are set (0 = any, -1 = off).
	TURNTLSPort int `yaml:"turn_tls_port"`
	// TURNCert and TURNKey are the PEM files of the turns: certificate.
	TURNCert string `yaml:"turn_cert"`
	TURNKey  string `yaml:"turn_key"`
	// TURNSecret is the shared secret TURN credentials are derived from;
	// empty means one generated on first start and kept in the data folder.
	TURNSecret string `yaml:"turn_secret"`
	// TURNTTL is how long the TURN credentials given to a client stay valid.
	TURNTTL time.Duration `yaml:"turn_ttl"`
	// PublicIP is the address announced in ICE candidates; empty means the
	// addresses of the local interfaces.
	PublicIP string `yaml:"public_ip"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json.
	LogFormat string `yaml:"log_format"`
	// ShutdownTimeout bounds how long a graceful stop waits for requests.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// DebugAddr, when set, serves Go's profiles (/debug/pprof/) on that
	// address, apart from the public listener; empty means off.
	DebugAddr string `yaml:"debug_addr"`
}

// Default returns the embedded defaults: everything works with no file,
// flag or variable set.
func Default() Config {
	return Config{
		Addr:            "localhost:8080",
		Data:            "./parley-data",
		RTCUDPPort:      7882,
		RTCTCPPort:      7881,
		TURNPort:        3478,
		TURNTLSPort:     5349,
		TURNTTL:         24 * time.Hour,
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 10 * time.Second,
	}
}

// field binds one setting to its flag, environment variable and YAML key.
type field struct {
	flag, env, usage string
	str              *string
	num              *int
	dur              *time.Duration
}

func (c *Config) fields() []field {
	return []field{
		{flag: "addr", env: "PARLEY_ADDR", usage: "HTTP listen address", str: &c.Addr},
		{flag: "data", env: "PARLEY_DATA", usage: "data folder (store, secrets, recordings)", str: &c.Data},
		{flag: "api-key", env: "PARLEY_API_KEY", usage: "API key of a project to create or keep (numeric)", str: &c.APIKey},
		{flag: "api-secret", env: "PARLEY_API_SECRET", usage: "API secret of that project", str: &c.APISecret},
		{flag: "public-url", env: "PARLEY_PUBLIC_URL", usage: "base URL clients use to reach this node", str: &c.PublicURL},
		{flag: "rtc-udp-port", env: "PARLEY_RTC_UDP_PORT", usage: "UDP port shared by all ICE traffic (0 = any)", num: &c.RTCUDPPort},
		{flag: "rtc-tcp-port", env: "PARLEY_RTC_TCP_PORT", usage: "ICE-TCP fallback port (0 = any)", num: &c.RTCTCPPort},
		{flag: "turn-port", env: "PARLEY_TURN_PORT", usage: "embedded TURN port, UDP and TCP (0 = any)", num: &c.TURNPort},
		{flag: "turn-tls-port", env: "PARLEY_TURN_TLS_PORT", usage: "TURN over TLS port, with --turn-cert and --turn-key (0 = any, -1 = off)", num: &c.TURNTLSPort},
		{flag: "turn-cert", env: "PARLEY_TURN_CERT", usage: "PEM certificate (chain) for TURN over TLS", str: &c.TURNCert},
		{flag: "turn-key", env: "PARLEY_TURN_KEY", usage: "PEM private key for TURN over TLS", str: &c.TURNKey},
		{flag: "turn-secret", env: "PARLEY_TURN_SECRET", usage: "shared secret of TURN credentials (empty = generated, kept in the data folder)", str: &c.TURNSecret},
		{flag: "turn-ttl", env: "PARLEY_TURN_TTL", usage: "how long TURN credentials given to a client stay valid", dur: &c.TURNTTL},
		{flag: "public-ip", env: "PARLEY_PUBLIC_IP", usage: "IP address announced in ICE candidates", str: &c.PublicIP},
		{flag: "log-level", env: "PARLEY_LOG_LEVEL", usage: "debug, info, warn or error", str: &c.LogLevel},
		{flag: "log-format", env: "PARLEY_LOG_FORMAT", usage: "text or json", str: &c.LogFormat},
		{flag: "shutdown-timeout", env: "PARLEY_SHUTDOWN_TIMEOUT", usage: "how long a graceful stop waits", dur: &c.ShutdownTimeout},
		{flag: "debug-addr", env: "PARLEY_DEBUG_ADDR", usage: "serve CPU and memory profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (empty = off)", str: &c.DebugAddr},
	}
}

// Load builds a Config from args (without the program and subcommand
// names), the environment given by getenv, and the YAML file named by
// --config or PARLEY_CONFIG. It returns flag.ErrHelp when -h was asked.
func Load(name string, args []string, getenv func(string) string) (Config, error) {
	cfg := Default()

	// The file is read first so that the environment and flags override
	// it; its name may itself come from a flag, so look for it by hand.
	path := getenv("PARLEY_CONFIG")
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, "config="); ok {
			path = v
		} else if a == "config" && i+1 < len(args) {
			path = args[i+1]
		}
	}
	if path != "" {
		if err := cfg.readFile(path); err != nil {
			return cfg, err
		}
	}

	for _, f := range cfg.fields() {
		v := getenv(f.env)
		if v == "" {
			continue
		}
		if err := f.set(v); err != nil {
			return cfg, fmt.Errorf("%s: %w", f.env, err)
		}
	}

	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.String("config", path, "YAML configuration file (env PARLEY_CONFIG)")
	for _, f := range cfg.fields() {
		usage := fmt.Sprintf("%s (env %s)", f.usage, f.env)
		switch {
		case f.str != nil:
			fs.StringVar(f.str, f.flag, *f.str, usage)
		case f.num != nil:
			fs.IntVar(f.num, f.flag, *f.num, usage)
		case f.dur != nil:
			fs.DurationVar(f.dur, f.flag, *f.dur, usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.Validate()
}

func (f field) set(v string) error {
	switch {
	case f.str != nil:
		*f.str = v
	case f.num != nil:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a number: %q", v)
		}
		*f.num = n
	case f.dur != nil:
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*f.dur = d
	}
	return nil
}

func (c *Config) readFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file decodes to io.EOF: it simply sets nothing.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("addr must not be empty")
	}
	if c.Data == "" {
		return errors.New("data must not be empty")
	}
	if (c.APIKey == "") != (c.APISecret == "") {
		return errors.New("api-key and api-secret must be given together")
	}
	if c.APIKey != "" {
		if err := ValidAPIKey(c.APIKey); err != nil {
			return err
		}
		if len(c.APISecret) < 16 {
			return errors.New("api-secret must be at least 16 characters")
		}
	}
	for name, p := range map[string]int{"rtc-udp-port": c.RTCUDPPort, "rtc-tcp-port": c.RTCTCPPort, "turn-port": c.TURNPort} {
		if p < 0 || p > 65535 {
			return fmt.Errorf("%s %d is not a port", name, p)
		}
	}
	if c.TURNTLSPort < -1 || c.TURNTLSPort > 65535 {
		return fmt.Errorf("turn-tls-port %d is not a port (-1 turns TLS off)", c.TURNTLSPort)
	}
	if (c.TURNCert == "") != (c.TURNKey == "") {
		return errors.New("turn-cert and turn-key must be given together")
	}
	if c.TURNCert != "" && c.TURNTLSPort >= 0 && c.TURNTLSPort == c.TURNPort && c.TURNPort != 0 {
		// TCP on the TURN port is plain TURN already.
		return fmt.Errorf("turn-tls-port %d must differ from turn-port", c.TURNTLSPort)
	}
	if c.TURNSecret != "" && len(c.TURNSecret) < 16 {
		return errors.New("turn-secret must be at least 16 characters")
	}
	if c.TURNTTL < time.Minute {
		return fmt.Errorf("turn-ttl %v: want at least a minute", c.TURNTTL)
	}
	if c.PublicIP != "" && net.ParseIP(c.PublicIP) == nil {
		return fmt.Errorf("public-ip %q is not an IP address", c.PublicIP)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log-format %q: want text or json", c.LogFormat)
	}
	return nil
}

// ValidAPIKey checks that key is a positive decimal number that fits in 32
// signed bits: the Java and .NET SDKs store API keys as int.
func ValidAPIKey(key string) error {
	n, err := strconv.ParseInt(key, 10, 32)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != key {
		return fmt.Errorf("api key %q must be a positive whole number below 2147483648", key)
	}
	return nil
}
