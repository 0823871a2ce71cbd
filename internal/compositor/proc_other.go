//go:build !linux

package compositor

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }

// udpListening cannot tell here; the caller waits a moment instead.
func udpListening(port int) (bound, ok bool) { return false, false }
