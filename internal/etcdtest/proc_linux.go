package etcdtest

import (
	"os/exec"
	"runtime"
	"syscall"
)

// setPdeathsig has the kernel kill the member if the test binary dies
// without running its cleanups.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func unsupportedArch() string { return runtime.GOARCH }
