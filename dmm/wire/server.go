package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// ServerConfig holds what the LM and HAA servers share.
type ServerConfig struct {
	// Clock drives the reply cache and the lifetimes put in replies; it
	// must be the clock of the LM or HAA served (nil: the system clock).
	Clock clock.Clock
	// Log receives the server's messages (nil: discarded).
	Log *logrus.Entry
	// ReplyCacheSize bounds the replies kept for retransmitted requests
	// (default 1024; negative: no cache).
	ReplyCacheSize int
	// ReplyCacheTTL is how long a reply is kept (default 32 s, the RFC
	// 5213 §6.9.4 MAX_BINDACK_TIMEOUT, the longest retransmission
	// interval of a requester).
	ReplyCacheTTL time.Duration
}

// Validate checks the configuration.
func (c ServerConfig) Validate() error {
	if c.ReplyCacheTTL < 0 {
		return fmt.Errorf("wire: ReplyCacheTTL %v: must not be negative", c.ReplyCacheTTL)
	}
	return nil
}

func (c *ServerConfig) defaults(component string) {
	if c.Clock == nil {
		c.Clock = clock.New()
	}
	if c.ReplyCacheSize == 0 {
		c.ReplyCacheSize = 1024
	}
	if c.ReplyCacheTTL == 0 {
		c.ReplyCacheTTL = 32 * time.Second
	}
	if c.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.Log = logrus.NewEntry(l)
	}
	c.Log = c.Log.WithField("component", component)
}

// ServerStats counts a server's traffic.
type ServerStats struct {
	Received   uint64 // packets received
	Answered   uint64 // replies sent (cached ones included; SendFailed too)
	FromCache  uint64 // retransmissions answered from the reply cache
	Dropped    uint64 // packets not answered (undecodable, not for this server)
	SendFailed uint64 // replies the transport refused
}

type serverStats struct{ rx, tx, cached, dropped, sendErr atomic.Uint64 }

func (s *serverStats) get() ServerStats {
	return ServerStats{Received: s.rx.Load(), Answered: s.tx.Load(), FromCache: s.cached.Load(),
		Dropped: s.dropped.Load(), SendFailed: s.sendErr.Load()}
}

// handler answers one decoded request; nil means no answer.
type handler func(ctx context.Context, p *transport.Packet, m mh.Message) mh.Message

// undecodable answers a request that did not decode; nil means drop.
type undecodable func(p *transport.Packet) mh.Message

// server is the event loop shared by LMServer and HAAServer: it receives
// from the transport, answers retransmissions from the reply cache, and
// passes the rest to the role's handler, one packet at a time.
type server struct {
	tr     transport.Transport
	cfg    ServerConfig
	handle handler
	bad    undecodable
	stats  serverStats

	cache *replyCache
	dec   mh.Decoder
	out   []byte

	mu      sync.Mutex
	serving bool
}

func newServer(tr transport.Transport, cfg ServerConfig, h handler, bad undecodable) *server {
	return &server{tr: tr, cfg: cfg, handle: h, bad: bad,
		cache: newReplyCache(max(cfg.ReplyCacheSize, 0), cfg.ReplyCacheTTL), out: make([]byte, 0, 2048)}
}

var errServing = errors.New("wire: server already running")

// serve runs the loop until ctx is done (then it closes the transport) or
// the transport is closed.
func (s *server) serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errServing
	}
	s.serving = true
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { s.tr.Close() })
	defer stop()
	s.cfg.Log.WithField("address", s.tr.LocalAddr()).Info("serving")
	ps := make([]transport.Packet, 16)
	for {
		n, err := s.tr.Receive(ps)
		if err != nil {
			if errors.Is(err, transport.ErrClosed) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return nil
			}
			return err
		}
		for i := range ps[:n] {
			s.packet(ctx, &ps[i])
		}
	}
}

// keyOf returns the reply-cache key of a request; ok is false for what is
// not a request this package answers.
func keyOf(p *transport.Packet) (replyKey, bool) {
	b := p.Data
	if len(b) < 12 {
		return replyKey{}, false
	}
	c := mh.CurrentCodepoints()
	switch {
	case mh.Type(b[2]) == mh.TypeBindingUpdate:
		return replyKey{src: p.Src, typ: b[2], seq: uint16(b[6])<<8 | uint16(b[7])}, true
	case mh.Type(b[2]) == c.CarrierMHType && b[6] == c.LocationQuery:
		return replyKey{src: p.Src, typ: b[2], dmm: b[6], seq: uint16(b[8])<<8 | uint16(b[9])}, true
	}
	return replyKey{}, false
}

func (s *server) packet(ctx context.Context, p *transport.Packet) {
	s.stats.rx.Add(1)
	log := s.cfg.Log.WithField("peer", p.Src)
	k, ok := keyOf(p)
	if !ok {
		s.stats.dropped.Add(1)
		return
	}
	now := s.cfg.Clock.Now()
	if r, ok := s.cache.get(k, p.Data, now); ok {
		s.stats.cached.Add(1)
		s.send(p, r, log)
		return
	}
	var reply mh.Message
	m, err := s.dec.Decode(p.Data)
	if err == nil {
		err = mh.ValidateHeader(m)
	}
	if err != nil {
		if s.bad != nil {
			reply = s.bad(p)
		}
		if reply == nil {
			log.WithError(err).Debug("dropping undecodable request")
			s.stats.dropped.Add(1)
			return
		}
	} else {
		reply = s.handle(ctx, p, m)
	}
	if reply == nil {
		s.stats.dropped.Add(1)
		return
	}
	n := reply.MarshalLen()
	if cap(s.out) < n {
		s.out = make([]byte, n)
	}
	out := s.out[:n]
	if err := reply.MarshalTo(out); err != nil {
		log.WithError(err).Error("cannot encode reply")
		s.stats.dropped.Add(1)
		return
	}
	s.cache.put(k, p.Data, out, now)
	s.send(p, out, log)
}

func (s *server) send(p *transport.Packet, b []byte, log *logrus.Entry) {
	s.stats.tx.Add(1) // before sending: the answer may be read before Send returns
	if err := s.tr.Send(p.Src, b); err != nil {
		s.stats.sendErr.Add(1)
		log.WithError(err).Warn("send failed")
	}
}

// pbaFor returns the PBA skeleton answering bu: P and D set, Sequence #
// copied, and the MN-ID, HI and ATT options echoed (RFC 5213 §5.3.6 asks
// the same of an LMA; the MR's code can then match the answer as a MAG
// would).
func pbaFor(bu *mh.BindingUpdate) *mh.BindingAck {
	ba := &mh.BindingAck{Sequence: bu.Sequence, Flags: mh.BAFlagP | mh.BAFlagD}
	if id, ok := mh.Find[*mh.MNIdentifier](bu.Options); ok {
		ba.Options = append(ba.Options, &mh.MNIdentifier{Subtype: id.Subtype, Identifier: append([]byte(nil), id.Identifier...), Empty: id.Empty})
	}
	return ba
}

// pbaTail appends the echoed HI and ATT to the PBA's options.
func pbaTail(ba *mh.BindingAck, bu *mh.BindingUpdate) {
	if hi, ok := mh.Find[*mh.HandoffIndicator](bu.Options); ok {
		ba.Options = append(ba.Options, &mh.HandoffIndicator{Value: hi.Value})
	}
	if att, ok := mh.Find[*mh.AccessTechnologyType](bu.Options); ok {
		c := *att
		ba.Options = append(ba.Options, &c)
	}
}

// checkPBU runs the identity checks every server makes: P flag (else a
// BA, P clear, status 131), one MN-ID (160, 128 if repeated), at least
// one HNP (158). It returns the MN key and the HNP options, or the reply.
func checkPBU(bu *mh.BindingUpdate) (string, []*mh.HomeNetworkPrefix, *mh.BindingAck) {
	if err := mh.ValidatePBUIdentity(bu); err != nil {
		ba := pbaFor(bu)
		var se *mh.StatusError
		if errors.As(err, &se) {
			ba.Status = se.Status
		} else {
			ba.Status = mh.StatusReasonUnspecified
		}
		if !bu.Proxy() {
			ba.Flags = 0
		}
		return "", nil, ba
	}
	id, _ := mh.Find[*mh.MNIdentifier](bu.Options)
	key := MNKey(id)
	var hnps []*mh.HomeNetworkPrefix
	for _, o := range bu.Options {
		if h, ok := o.(*mh.HomeNetworkPrefix); ok {
			hnps = append(hnps, h)
		}
	}
	if key == "" {
		ba := pbaFor(bu)
		ba.Status = mh.StatusMissingMNIdentifierOption
		return "", nil, ba
	}
	if len(hnps) == 0 {
		ba := pbaFor(bu)
		ba.Status = mh.StatusMissingHNPOption
		return "", nil, ba
	}
	return key, hnps, nil
}
