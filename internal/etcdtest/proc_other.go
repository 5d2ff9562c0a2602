//go:build !linux

package etcdtest

import (
	"os/exec"
	"runtime"
)

func setPdeathsig(*exec.Cmd) {}

func unsupportedArch() string { return runtime.GOARCH }
