// Package testdeps gives tests the outside tools they need (tshark, ...),
// installing the Debian package that ships a tool when it is missing.
//
// The project's machines and CI run as root with Debian's apt, so a
// missing tool is installed rather than the test skipped: a test that
// needs tshark and cannot get it fails with the reason.
package testdeps

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// LockPath is the lock file that serialises installs across the test
// binaries that `go test` runs in parallel (one per package).
var LockPath = filepath.Join(os.TempDir(), "pmipdmm-testdeps.lock")

// updateStamp records that `apt-get update` ran; another test binary
// seeing a recent stamp does not run it again.
var updateStamp = filepath.Join(os.TempDir(), "pmipdmm-testdeps.apt-updated")

// installTimeout bounds one apt-get run.
const installTimeout = 15 * time.Minute

var (
	mu        sync.Mutex
	updatedMu sync.Once
	updateErr error
)

// searchDirs are looked at besides PATH (a test's PATH may lack sbin).
var searchDirs = []string{"/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"}

// Lookup returns the path of binary, from PATH or the usual system
// directories, or "" when it is not installed.
func Lookup(binary string) string {
	if p, err := exec.LookPath(binary); err == nil {
		return p
	}
	for _, d := range searchDirs {
		p := filepath.Join(d, binary)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Ensure returns the path of binary. When it is missing and the test runs
// as root, it installs aptPackage with apt-get (running `apt-get update`
// first, once); when that is impossible it fails the test with the reason.
func Ensure(t testing.TB, binary, aptPackage string) string {
	t.Helper()
	p, err := ensure(binary, aptPackage)
	if err != nil {
		t.Fatalf("testdeps: %v", err)
	}
	return p
}

func ensure(binary, aptPackage string) (string, error) {
	if p := Lookup(binary); p != "" {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%s is not installed and this test is not running as root, so it cannot run "+
			"`apt-get install %s`; install it first (the project's machines and CI run as root)", binary, aptPackage)
	}
	if Lookup("apt-get") == "" {
		return "", fmt.Errorf("%s is not installed and apt-get is not available to install Debian package %s", binary, aptPackage)
	}
	mu.Lock()
	defer mu.Unlock()
	unlock, err := lockFile(LockPath)
	if err != nil {
		return "", fmt.Errorf("locking %s before installing %s: %v", LockPath, aptPackage, err)
	}
	defer unlock()
	// Another test binary may have installed it while we waited.
	if p := Lookup(binary); p != "" {
		return p, nil
	}
	updatedMu.Do(func() { updateErr = aptUpdate() })
	if updateErr != nil {
		return "", updateErr
	}
	if out, err := apt("install", "-y", "--no-install-recommends", aptPackage); err != nil {
		return "", fmt.Errorf("apt-get install %s (for %s) failed: %v\n%s", aptPackage, binary, err, tail(out))
	}
	if p := Lookup(binary); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("apt-get installed %s but %s is still not found", aptPackage, binary)
}

// aptUpdate runs `apt-get update` unless another test binary did within
// the last hour.
func aptUpdate() error {
	if st, err := os.Stat(updateStamp); err == nil && time.Since(st.ModTime()) < time.Hour {
		return nil
	}
	if out, err := apt("update"); err != nil {
		return fmt.Errorf("apt-get update failed: %v\n%s", err, tail(out))
	}
	_ = os.WriteFile(updateStamp, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
	return nil
}

func apt(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	// Wait for apt/dpkg locks held by anyone else instead of failing.
	full := append([]string{"-o", "DPkg::Lock::Timeout=600"}, args...)
	cmd := exec.CommandContext(ctx, "apt-get", full...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdin = nil
	return cmd.CombinedOutput()
}

// tail returns the last lines of apt's output, enough for the reason.
func tail(out []byte) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
