package loadtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// procSample is what Linux says of a process at one moment: the CPU time
// it has used (user + system, all its threads) and its resident memory.
type procSample struct {
	at  time.Time
	cpu time.Duration
	rss uint64 // bytes
}

// readProc samples process pid from /proc/PID/stat (utime and stime, in
// clock ticks) and /proc/PID/status (VmRSS).
func readProc(pid int) (procSample, error) {
	now := time.Now()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return procSample{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, err
	}
	rss, err := parseStatusRSS(status)
	if err != nil {
		return procSample{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return procSample{at: now, cpu: cpu, rss: rss}, nil
}

// parseStatCPU reads utime + stime from a /proc/PID/stat line. The
// command name (field 2) is in parentheses and may hold spaces or
// parentheses itself, so fields are counted from the last ')': utime and
// stime are fields 14 and 15 of the line.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("too few fields")
	}
	utime, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("utime or stime is not a number")
	}
	return time.Duration(utime+stime) * time.Second / time.Duration(clockTicks()), nil
}

// parseStatusRSS reads VmRSS (in kB) from /proc/PID/status.
func parseStatusRSS(status []byte) (uint64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 1 {
			break
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, err
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no VmRSS (a zombie, or a kernel thread)")
}

// machineSample is the machine's CPU time, all CPUs together, from the
// first line of /proc/stat: busy (user, nice, system, irq, softirq) and
// steal (taken by the hypervisor from a virtual machine).
type machineSample struct {
	at          time.Time
	busy, steal time.Duration
}

func readMachine() (machineSample, error) {
	now := time.Now()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineSample{}, err
	}
	return parseMachineStat(b, now)
}

func parseMachineStat(b []byte, now time.Time) (machineSample, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return machineSample{}, errors.New("/proc/stat: no cpu line")
	}
	var v [8]uint64 // user nice system idle iowait irq softirq steal
	for i := range v {
		n, err := strconv.ParseUint(string(f[i+1]), 10, 64)
		if err != nil {
			return machineSample{}, fmt.Errorf("/proc/stat: %w", err)
		}
		v[i] = n
	}
	tick := time.Second / time.Duration(clockTicks())
	busy := v[0] + v[1] + v[2] + v[5] + v[6]
	return machineSample{at: now, busy: time.Duration(busy) * tick, steal: time.Duration(v[7]) * tick}, nil
}

var (
	ticksOnce sync.Once
	ticks     int64
)

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times: the
// AT_CLKTCK entry of this process's auxiliary vector, or else 100, which
// it is on every common Linux.
func clockTicks() int64 {
	ticksOnce.Do(func() {
		ticks = 100
		b, err := os.ReadFile("/proc/self/auxv")
		if err != nil || strconv.IntSize != 64 {
			return // entries are two 64-bit words only on 64-bit systems
		}
		const atClkTck = 17
		for len(b) >= 16 {
			k, v := binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b[8:])
			if k == atClkTck && v > 0 && v < 1e6 {
				ticks = int64(v)
				return
			}
			b = b[16:]
		}
	})
	return ticks
}
