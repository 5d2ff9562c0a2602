package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// mgmtServer is the management API: JSON over HTTP on a Unix socket
// (management.socket), read-only except POST /v1/reload.
//
//	GET  /v1/status        node, roles, data plane driver and why, start time
//	GET  /v1/lma/bindings  the Binding Cache
//	GET  /v1/lma/counters  message counters (PBA by status, drops by reason)
//	GET  /v1/lma/peers     MAGs with bindings (heartbeat state)
//	GET  /v1/mag/bul       the Binding Update List
//	GET  /v1/mag/counters  the MAG's counters
//	GET  /v1/mag/peers     LMAs (heartbeat state)
//	GET  /v1/dataplane     the entries installed, read back from the data plane
//	POST /v1/reload        reload the configuration file (as SIGHUP does)
type mgmtServer struct {
	ln     net.Listener
	srv    *http.Server
	path   string
	reload func() (string, error) // set by main once the Reloader exists
}

// status is the reply of /v1/status.
type status struct {
	Node           string    `json:"node"`
	Roles          []string  `json:"roles"`
	Address        string    `json:"address"`
	Driver         string    `json:"driver"`
	DriverReason   string    `json:"driver_reason"`
	Started        time.Time `json:"started"`
	RestartCounter uint32    `json:"restart_counter"`
}

func startMgmt(d *daemon, path string) (*mgmtServer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	// A socket left by a process that is gone is removed; a live one is not.
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, errors.New(path + ": another process is serving this socket")
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	m := &mgmtServer{ln: ln, path: path}
	mux := http.NewServeMux()
	ctx := func(r *http.Request) (context.Context, context.CancelFunc) {
		return context.WithTimeout(r.Context(), 5*time.Second)
	}
	reply := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	}
	notRole := func(w http.ResponseWriter, role string) {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "this node does not run the " + role + " role"})
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		c := d.config()
		s := status{Node: c.Node.Name, Address: c.Transport.Address.String(), Driver: d.dp.Name(),
			DriverReason: d.driverReason, Started: d.started, RestartCounter: d.restarts}
		for _, x := range c.Roles {
			s.Roles = append(s.Roles, string(x))
		}
		reply(w, s, nil)
	})
	lmaGet := func(f func(context.Context) (any, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if d.lma == nil {
				notRole(w, "lma")
				return
			}
			c, cancel := ctx(r)
			defer cancel()
			v, err := f(c)
			reply(w, v, err)
		}
	}
	mux.HandleFunc("GET /v1/lma/bindings", lmaGet(func(c context.Context) (any, error) { return d.lma.Bindings(c) }))
	mux.HandleFunc("GET /v1/lma/counters", lmaGet(func(c context.Context) (any, error) { return d.lma.Counters(c) }))
	mux.HandleFunc("GET /v1/lma/peers", lmaGet(func(c context.Context) (any, error) { return d.lma.Peers(c) }))
	magGet := func(f func() any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if d.mag == nil {
				notRole(w, "mag")
				return
			}
			reply(w, f(), nil)
		}
	}
	mux.HandleFunc("GET /v1/mag/bul", magGet(func() any { return d.mag.BUL() }))
	mux.HandleFunc("GET /v1/mag/counters", magGet(func() any { return d.mag.Counters() }))
	mux.HandleFunc("GET /v1/mag/peers", magGet(func() any { return d.mag.Peers() }))
	mux.HandleFunc("GET /v1/dataplane", func(w http.ResponseWriter, r *http.Request) {
		es, err := d.dp.List()
		type entry struct {
			Kind   string `json:"kind"`
			Prefix string `json:"prefix"`
			Remote string `json:"remote,omitempty"`
			Dev    string `json:"dev,omitempty"`
		}
		out := []entry{}
		for _, e := range es {
			x := entry{Kind: e.Kind.String(), Prefix: e.Prefix.String(), Dev: e.Dev}
			if e.Remote.IsValid() {
				x.Remote = e.Remote.String()
			}
			out = append(out, x)
		}
		reply(w, out, err)
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		if m.reload == nil {
			reply(w, nil, errors.New("reload not available"))
			return
		}
		summary, err := m.reload()
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		reply(w, map[string]string{"changes": summary}, nil)
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

func (m *mgmtServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.srv.Shutdown(ctx)
	_ = os.Remove(m.path)
}
