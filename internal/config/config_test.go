package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load("serve", nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c != Default() || c.Addr != "localhost:8080" || c.Data != "./parley-data" {
		t.Fatalf("%+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "parley.yaml")
	os.WriteFile(file, []byte("addr: 0.0.0.0:9000\ndata: /from/file\nturn_port: 5000\nshutdown_timeout: 3s\n"), 0o600)
	c, err := Load("serve", []string{"--config", file, "--data", "/from/flag"},
		env(map[string]string{"PARLEY_DATA": "/from/env", "PARLEY_TURN_PORT": "6000"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "0.0.0.0:9000" || c.Data != "/from/flag" || c.TURNPort != 6000 || c.ShutdownTimeout != 3*time.Second {
		t.Fatalf("%+v", c)
	}
	c, err = Load("serve", nil, env(map[string]string{"PARLEY_CONFIG": file}))
	if err != nil || c.Data != "/from/file" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestTURN(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "parley.yaml")
	os.WriteFile(file, []byte("turn_tls_port: 443\nturn_cert: /file.crt\nturn_key: /file.key\nturn_ttl: 2h\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want func(Config) bool
	}{
		{"defaults", nil, nil, func(c Config) bool {
			return c.TURNPort == 3478 && c.TURNTLSPort == 5349 && c.TURNCert == "" && c.TURNSecret == "" && c.TURNTTL == 24*time.Hour
		}},
		{"file", []string{"--config", file}, nil, func(c Config) bool {
			return c.TURNTLSPort == 443 && c.TURNCert == "/file.crt" && c.TURNKey == "/file.key" && c.TURNTTL == 2*time.Hour
		}},
		{"environment over file", []string{"--config", file}, map[string]string{"PARLEY_TURN_TLS_PORT": "-1", "PARLEY_TURN_SECRET": "0123456789abcdef", "PARLEY_TURN_CERT": "/env.crt", "PARLEY_TURN_KEY": "/env.key"}, func(c Config) bool {
			return c.TURNTLSPort == -1 && c.TURNSecret == "0123456789abcdef" && c.TURNCert == "/env.crt" && c.TURNKey == "/env.key"
		}},
		{"flags over environment", []string{"--turn-tls-port", "0", "--turn-ttl", "1h", "--turn-secret", "flag-secret-0123456"}, map[string]string{"PARLEY_TURN_TLS_PORT": "-1", "PARLEY_TURN_SECRET": "0123456789abcdef"}, func(c Config) bool {
			return c.TURNTLSPort == 0 && c.TURNTTL == time.Hour && c.TURNSecret == "flag-secret-0123456"
		}},
	} {
		c, err := Load("serve", tc.args, env(tc.env))
		if err != nil || !tc.want(c) {
			t.Errorf("%s: %+v, %v", tc.name, c, err)
		}
	}
}

func TestRejected(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("adr: typo\n"), 0o600)
	cases := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"key without secret", []string{"--api-key", "123"}, nil},
		{"non-numeric key", []string{"--api-key", "abc", "--api-secret", "0123456789abcdef"}, nil},
		{"key too big", []string{"--api-key", "99999999999", "--api-secret", "0123456789abcdef"}, nil},
		{"short secret", []string{"--api-key", "123", "--api-secret", "short"}, nil},
		{"bad port", []string{"--turn-port", "70000"}, nil},
		{"bad tls port", []string{"--turn-tls-port", "-2"}, nil},
		{"cert without key", []string{"--turn-cert", "c.pem"}, nil},
		{"key without cert", nil, map[string]string{"PARLEY_TURN_KEY": "k.pem"}},
		{"tls on the turn port", []string{"--turn-cert", "c.pem", "--turn-key", "k.pem", "--turn-tls-port", "3478"}, nil},
		{"short turn secret", []string{"--turn-secret", "short"}, nil},
		{"tiny turn ttl", []string{"--turn-ttl", "10s"}, nil},
		{"bad turn ttl", nil, map[string]string{"PARLEY_TURN_TTL": "a day"}},
		{"bad env number", nil, map[string]string{"PARLEY_RTC_UDP_PORT": "x"}},
		{"bad ip", []string{"--public-ip", "example"}, nil},
		{"bad level", []string{"--log-level", "loud"}, nil},
		{"unknown yaml key", []string{"--config", bad}, nil},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, nil},
		{"stray argument", []string{"extra"}, nil},
		{"unknown flag", []string{"--nope"}, nil},
	}
	for _, tc := range cases {
		if _, err := Load("serve", tc.args, env(tc.env)); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestValidAPIKey(t *testing.T) {
	for k, ok := range map[string]bool{"1": true, "12345678": true, "2147483647": true, "2147483648": false, "0": false, "-5": false, "007": false, "": false, "1e5": false} {
		if (ValidAPIKey(k) == nil) != ok {
			t.Errorf("%q: want valid=%v", k, ok)
		}
	}
}
