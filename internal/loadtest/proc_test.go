package loadtest

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with a space and a parenthesis, as a process may
	// name itself; utime 250 and stime 50 ticks.
	stat := "4242 (parley (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 250 50 0 0 20 0 12 0 100 900000000 5000 18446744073709551615\n"
	cpu, err := parseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 300 * time.Second / time.Duration(clockTicks()); cpu != want {
		t.Errorf("cpu %v, want %v", cpu, want)
	}
	for _, bad := range []string{"", "4242 parley S 1", "1 (a) S 1 2 3"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tparley\nVmPeak:\t  900000 kB\nVmRSS:\t   51200 kB\nThreads:\t12\n"
	rss, err := parseStatusRSS([]byte(status))
	if err != nil || rss != 50<<20 {
		t.Errorf("rss %d, %v", rss, err)
	}
	if _, err := parseStatusRSS([]byte("Name:\tkthreadd\n")); err == nil {
		t.Error("no VmRSS: no error")
	}
}

// The process sampler reads this very process: some CPU, some memory.
func TestReadProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	if clockTicks() <= 0 {
		t.Fatalf("clock ticks %d", clockTicks())
	}
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.rss < 1<<20 || s.at.IsZero() {
		t.Errorf("%+v", s)
	}
	if _, err := readProc(-1); err == nil {
		t.Error("process -1 was read")
	}
}

func TestParseMachineStat(t *testing.T) {
	stat := "cpu  1000 20 300 50000 40 5 6 7 0 0\ncpu0 500 10 150 25000 20 2 3 3 0 0\nintr 1 2 3\n"
	now := time.Now()
	m, err := parseMachineStat([]byte(stat), now)
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Second / time.Duration(clockTicks())
	if m.busy != 1331*tick || m.steal != 7*tick || !m.at.Equal(now) {
		t.Errorf("%+v", m)
	}
	if _, err := parseMachineStat([]byte("intr 1 2\n"), now); err == nil {
		t.Error("no cpu line: no error")
	}
	if _, err := readMachine(); err != nil {
		t.Logf("this machine: %v", err)
	}
}
