package compositor

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
)

func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// udpListening reports whether a socket is bound to 127.0.0.1:port, from
// the kernel's table of UDP sockets; ok is false when the table cannot be
// read.
func udpListening(port int) (bound, ok bool) {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return false, false
	}
	defer f.Close()
	want := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && fields[1] == want {
			return true, true
		}
	}
	return false, sc.Err() == nil
}
