package mgmt_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/mgmt/mgmttest"
)

// serve runs s on ln until the test ends.
func serve(t *testing.T, s *mgmt.Server, ln net.Listener, token string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, token) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

func TestUnixSocket(t *testing.T) {
	d := mgmttest.New(t)
	d.AttachMN1()
	path := filepath.Join(t.TempDir(), "run", "pmipd.sock") // parent created by ListenUnix
	ln, err := mgmt.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("socket directory holds %d entries, want only the socket", len(ents))
	}
	serve(t, mgmt.New(d.MgmtConfig()), ln, "")

	bs, err := mgmt.NewClient(path).Bindings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].MN != "mn1@example" || bs[0].HNPs[0].String() != "2001:db8:100::/64" {
		t.Errorf("bindings over the socket: %+v", bs)
	}
	// A second daemon on the same socket is refused.
	if _, err := mgmt.ListenUnix(path); err == nil || !strings.Contains(err.Error(), "another process is serving") {
		t.Errorf("second listener on a live socket: %v", err)
	}
}

func TestUnixSocketStaleAndClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pmipd.sock")
	// A socket left by a dead daemon: bound, never served, closed
	// without unlinking.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	ln, err := mgmt.ListenUnix(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after Close: %v", err)
	}
	// A regular file is never removed.
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := mgmt.ListenUnix(path); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("regular file at the socket path: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "x" {
		t.Errorf("the regular file was changed")
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask aside
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		tok, err      string
	}{
		{"ok", "s3cret\n", 0o600, "s3cret", ""},
		{"group", "  s3cret  ", 0o640, "s3cret", ""},
		{"world-readable", "s3cret", 0o644, "", "mode 0644 lets other users read or write it"},
		{"world-writable", "s3cret", 0o602, "", "mode 0602 lets other users read or write it"},
		{"empty", " \n", 0o600, "", "is empty"},
		{"two-lines", "a\nb", 0o600, "", "must be one line"},
	} {
		tok, err := mgmt.ReadToken(write(tc.name, tc.content, tc.mode))
		if tok != tc.tok || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: token %q, error %v; want %q, error containing %q", tc.name, tok, err, tc.tok, tc.err)
		}
	}
	if _, err := mgmt.ReadToken(filepath.Join(dir, "absent")); err == nil {
		t.Errorf("absent token file accepted")
	}
}

func TestTCPWithToken(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:1", "nonsense"} {
		if ln, err := mgmt.ListenTCP(addr); err == nil {
			ln.Close()
			t.Errorf("ListenTCP(%q) accepted a non-loopback address", addr)
		}
	}
	d := mgmttest.New(t)
	ln, err := mgmt.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, mgmt.New(d.MgmtConfig()), ln, "s3cret")
	base := "http://" + ln.Addr().String()
	ctx := context.Background()
	for _, tok := range []string{"", "wrong", "s3cret2"} {
		_, err := mgmt.NewHTTPClient(base, nil, tok).Bindings(ctx)
		var ae *mgmt.Error
		if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "unauthorized" {
			t.Errorf("token %q: %v, want 401 unauthorized", tok, err)
		}
	}
	bs, err := mgmt.NewHTTPClient(base, nil, "s3cret").Bindings(ctx)
	if err != nil || len(bs) != 0 || bs == nil {
		t.Errorf("with the token: %v %v", bs, err)
	}
}

func TestListenAndServe(t *testing.T) {
	dir := t.TempDir()
	s := mgmt.New(mgmt.Config{})
	ctx := context.Background()
	if err := s.ListenAndServe(ctx, mgmt.Listen{TCP: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "needs a token file") {
		t.Errorf("TCP without a token: %v", err)
	}
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("t"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(tok, 0o644)
	sock := filepath.Join(dir, "s.sock")
	if err := s.ListenAndServe(ctx, mgmt.Listen{Socket: sock, TCP: "127.0.0.1:0", TokenFile: tok}); err == nil {
		t.Errorf("world-readable token accepted")
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind after a refused start: %v", err)
	}
	// Served until the context ends; the socket goes away after.
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, mgmt.Listen{Socket: sock}) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := mgmt.NewClient(sock).Counters(context.Background()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the socket never answered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after shutdown: %v", err)
	}
}
