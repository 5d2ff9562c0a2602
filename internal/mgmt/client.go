package mgmt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls the management API.
type Client struct {
	hc    *http.Client
	base  string // scheme://host, no trailing slash
	token string
}

// NewClient returns a client of the API on the unix socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
	return &Client{hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, base: "http://pmipd"}
}

// NewHTTPClient returns a client of the API at base (e.g.
// "http://127.0.0.1:9470"), sending token as a bearer token when not
// empty. hc nil means http.DefaultClient.
func NewHTTPClient(base string, hc *http.Client, token string) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{hc: hc, base: strings.TrimSuffix(base, "/"), token: token}
}

// Do sends a request to path (with its query) and decodes the JSON answer
// into out (a *json.RawMessage keeps it as sent). A non-2xx answer is
// returned as an *Error.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, out any) error {
	return c.do(ctx, method, path, "application/json", body, out)
}

func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			e.Code = "http_" + fmt.Sprint(resp.StatusCode)
			e.Detail = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("mgmt: decoding the answer to %s %s: %w", method, path, err)
	}
	return nil
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodGet, path, nil, out)
}

// Bindings lists the LMA's binding cache.
func (c *Client) Bindings(ctx context.Context) ([]Binding, error) {
	var r struct{ Bindings []Binding }
	err := c.get(ctx, "/v1/bindings", &r)
	return r.Bindings, err
}

// Binding returns the bindings of one MN (an *Error not_found if none).
func (c *Client) Binding(ctx context.Context, mn string) ([]Binding, error) {
	var r struct{ Bindings []Binding }
	err := c.get(ctx, "/v1/bindings/"+url.PathEscape(mn), &r)
	return r.Bindings, err
}

// Revoke revokes the bindings of mn (RFC 5846) and returns the outcome.
func (c *Client) Revoke(ctx context.Context, mn string, req RevokeRequest) (RevokeResponse, error) {
	var r RevokeResponse
	body, err := json.Marshal(req)
	if err != nil {
		return r, err
	}
	err = c.Do(ctx, http.MethodPost, "/v1/bindings/"+url.PathEscape(mn)+"/revoke", body, &r)
	return r, err
}

// BUL lists the MAG's binding update list.
func (c *Client) BUL(ctx context.Context) ([]BULEntry, error) {
	var r struct{ BUL []BULEntry }
	err := c.get(ctx, "/v1/bul", &r)
	return r.BUL, err
}

// LocationsPath is the request path of a location query.
func LocationsPath(q LocationQuery) string {
	v := url.Values{}
	if q.Address.IsValid() {
		v.Set("address", q.Address.String())
	}
	if q.Prefix.IsValid() {
		v.Set("prefix", q.Prefix.String())
	}
	if q.MN != "" {
		v.Set("mn", q.MN)
	}
	return "/v1/locations?" + v.Encode()
}

// Locations queries the LM.
func (c *Client) Locations(ctx context.Context, q LocationQuery) ([]Location, error) {
	var r struct{ Locations []Location }
	err := c.get(ctx, LocationsPath(q), &r)
	return r.Locations, err
}

// Pools lists the HAA's pools.
func (c *Client) Pools(ctx context.Context) ([]Pool, error) {
	var r struct{ Pools []Pool }
	err := c.get(ctx, "/v1/pools", &r)
	return r.Pools, err
}

// AllocationsPath is the request path of an allocation query.
func AllocationsPath(q AllocationQuery) string {
	v := url.Values{}
	if q.Pool.IsValid() {
		v.Set("pool", q.Pool.String())
	}
	if q.MN != "" {
		v.Set("mn", q.MN)
	}
	if len(v) == 0 {
		return "/v1/allocations"
	}
	return "/v1/allocations?" + v.Encode()
}

// Allocations lists the HAA's allocations.
func (c *Client) Allocations(ctx context.Context, q AllocationQuery) ([]Allocation, error) {
	var r struct{ Allocations []Allocation }
	err := c.get(ctx, AllocationsPath(q), &r)
	return r.Allocations, err
}

// MRNodes lists the nodes attached to (or attaching at) the MR.
func (c *Client) MRNodes(ctx context.Context) ([]MRNode, error) {
	var r struct{ Nodes []MRNode }
	err := c.get(ctx, "/v1/mr/nodes", &r)
	return r.Nodes, err
}

// MRLocations returns the MR's location cache and correspondents.
func (c *Client) MRLocations(ctx context.Context) (MRLocations, error) {
	var r MRLocations
	err := c.get(ctx, "/v1/mr/locations", &r)
	return r, err
}

// MRDepartures returns the nodes that left the MR and the prefixes it
// holds.
func (c *Client) MRDepartures(ctx context.Context) (MRDepartures, error) {
	var r MRDepartures
	err := c.get(ctx, "/v1/mr/departures", &r)
	return r, err
}

// Peers lists the signalling peers with their heartbeat state.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var r struct{ Peers []Peer }
	err := c.get(ctx, "/v1/peers", &r)
	return r.Peers, err
}

// Counters returns every role's counters.
func (c *Client) Counters(ctx context.Context) ([]Counter, error) {
	var r struct{ Counters []Counter }
	err := c.get(ctx, "/v1/counters", &r)
	return r.Counters, err
}

// Dataplane returns the forwarding state read back from the data plane.
func (c *Client) Dataplane(ctx context.Context) (Dataplane, error) {
	var r Dataplane
	err := c.get(ctx, "/v1/dataplane", &r)
	return r, err
}

// CheckConfig has the daemon validate a YAML configuration.
func (c *Client) CheckConfig(ctx context.Context, yaml []byte) (ConfigCheck, error) {
	var r ConfigCheck
	err := c.do(ctx, http.MethodPost, "/v1/config/check", "application/yaml", yaml, &r)
	return r, err
}

// Status describes the daemon.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var r Status
	err := c.get(ctx, "/v1/status", &r)
	return r, err
}

// Reload has the daemon re-read and apply its configuration file.
func (c *Client) Reload(ctx context.Context) (ReloadResult, error) {
	var r ReloadResult
	err := c.Do(ctx, http.MethodPost, "/v1/reload", nil, &r)
	return r, err
}
