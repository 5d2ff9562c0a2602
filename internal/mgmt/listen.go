package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SocketMode is the mode of the unix socket: only the daemon's user
// (root) may connect.
const SocketMode = 0o600

// ListenUnix listens on a unix socket at path with mode SocketMode. The
// socket is bound under a temporary name, given its mode, then renamed to
// path, so that it is never reachable with a looser mode. The parent
// directory is created (mode 0750) if missing. A stale socket at path
// (nobody accepting) is replaced; a live one, or a file that is not a
// socket, is an error. Closing the listener removes path.
func ListenUnix(path string) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("mgmt: empty socket path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("mgmt: socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("mgmt: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("mgmt: %s: another process is serving on this socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("mgmt: removing the stale socket: %w", err)
		}
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	_ = os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("mgmt: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, SocketMode); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("mgmt: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("mgmt: %w", err)
	}
	return &unixListener{UnixListener: ln, path: path}, nil
}

type unixListener struct {
	*net.UnixListener
	path string
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// ListenTCP listens on addr (host:port), which must be a loopback
// address: the API over TCP is for local tools that cannot use the
// socket, never for the network.
func ListenTCP(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("mgmt: listen address %q: %w", addr, err)
	}
	if host != "localhost" {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.IsLoopback() {
			return nil, fmt.Errorf("mgmt: listen address %q: the TCP API listens on loopback only", addr)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mgmt: %w", err)
	}
	return ln, nil
}

// ReadToken reads a bearer token file: surrounding white space is
// trimmed; an empty token, or a file that other users may read or write
// (mode & 0o006), is refused.
func ReadToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("mgmt: token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("mgmt: token file %s: not a regular file", path)
	}
	if m := fi.Mode().Perm(); m&0o006 != 0 {
		return "", fmt.Errorf("mgmt: token file %s: mode %#o lets other users read or write it (chmod 600)", path, m)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("mgmt: token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("mgmt: token file %s is empty", path)
	}
	if strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("mgmt: token file %s: the token must be one line", path)
	}
	return tok, nil
}

// Serve answers API requests on ln until ctx is done, then shuts down
// (waiting up to 5 s for requests in flight) and closes ln. A non-empty
// token requires "Authorization: Bearer <token>" on every request.
func (s *Server) Serve(ctx context.Context, ln net.Listener, token string) error {
	var h http.Handler = s
	if token != "" {
		h = withToken(token, s)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Listen says where the API is served: Socket (a unix socket path; "":
// none) and TCP (a loopback host:port; "": none) with the bearer token
// in TokenFile (required with TCP).
type Listen struct {
	Socket    string
	TCP       string
	TokenFile string
}

// ListenAndServe opens the listeners of l and serves on them until ctx
// is done. Errors in opening any of them are returned before anything is
// served.
func (s *Server) ListenAndServe(ctx context.Context, l Listen) error {
	type srv struct {
		ln    net.Listener
		token string
	}
	var srvs []srv
	closeAll := func() {
		for _, x := range srvs {
			x.ln.Close()
		}
	}
	if l.Socket != "" {
		ln, err := ListenUnix(l.Socket)
		if err != nil {
			return err
		}
		srvs = append(srvs, srv{ln: ln})
	}
	if l.TCP != "" {
		if l.TokenFile == "" {
			closeAll()
			return errors.New("mgmt: the TCP API needs a token file")
		}
		tok, err := ReadToken(l.TokenFile)
		if err != nil {
			closeAll()
			return err
		}
		ln, err := ListenTCP(l.TCP)
		if err != nil {
			closeAll()
			return err
		}
		srvs = append(srvs, srv{ln: ln, token: tok})
	}
	if len(srvs) == 0 {
		return errors.New("mgmt: nothing to listen on")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(srvs))
	for _, x := range srvs {
		go func() { errc <- s.Serve(ctx, x.ln, x.token) }()
	}
	var first error
	for range srvs {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel() // one listener failed: stop the others
		}
	}
	return first
}
