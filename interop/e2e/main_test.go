package e2e

import (
	"os"
	"testing"
)

// TestMain removes the binaries buildBinaries built for the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
