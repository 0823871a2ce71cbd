package live

import (
	"strings"
	"testing"
)

func TestRaceReports(t *testing.T) {
	rule := "=================="
	report := func(what string) string {
		return "WARNING: DATA RACE\nWrite at 0x1 by goroutine 8:\n  " + what + "\n"
	}
	out := "serving\n" + rule + "\n" + report("sfu.(*SFU).Close()") + rule + "\nlevel=INFO msg=left\n" +
		rule + "\n" + report("sfu.(*Subscriber).close()") + rule + "\nFound 2 data race(s)\n"
	got := raceReports(out)
	if strings.Count(got, "WARNING: DATA RACE") != 2 || !strings.Contains(got, "(*SFU).Close") || !strings.Contains(got, "(*Subscriber).close") {
		t.Fatalf("reports:\n%s", got)
	}
	if strings.Contains(got, "msg=left") || strings.Contains(got, "serving") {
		t.Fatalf("the reports carry log lines:\n%s", got)
	}
	if raceReports("serving\nstopped\n") != "" {
		t.Fatal("a log without races gave a report")
	}
	// A report cut short (the process killed) is kept to its end.
	if got := raceReports("x\n" + report("a.b()")); !strings.Contains(got, "a.b()") {
		t.Fatalf("a cut report: %q", got)
	}
}
