package testdeps

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		bin   string
		found bool
	}{
		{"sh", true},
		{"pmipdmm-no-such-tool-7f3a", false},
	}
	for _, tc := range tests {
		p := Lookup(tc.bin)
		if (p != "") != tc.found {
			t.Errorf("Lookup(%q) = %q, want found=%v", tc.bin, p, tc.found)
		}
		if p != "" && filepath.Base(p) != tc.bin {
			t.Errorf("Lookup(%q) = %q: wrong file", tc.bin, p)
		}
	}
}

func TestEnsureInstalled(t *testing.T) {
	// A tool that is there must be returned without apt.
	if p := Ensure(t, "sh", "dash"); filepath.Base(p) != "sh" {
		t.Fatalf("Ensure(sh) = %q", p)
	}
}

func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		u2, err := lockFile(path) // a second open file description: must wait
		if err != nil {
			t.Error(err)
		}
		close(got)
		if u2 != nil {
			u2()
		}
	}()
	select {
	case <-got:
		t.Fatal("second lock taken while the first is held")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("second lock not taken after the first was released")
	}
}

func TestTail(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 40; i++ {
		b.WriteString("line\n")
	}
	b.WriteString("E: the reason\n")
	out := tail([]byte(b.String()))
	if n := strings.Count(out, "\n") + 1; n != 15 {
		t.Errorf("tail kept %d lines, want 15", n)
	}
	if !strings.HasSuffix(out, "E: the reason") {
		t.Errorf("tail lost the last line: %q", out)
	}
}
