//go:build linux

package ipsec

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// XFRM is the kernel backend: it installs an SPD as XFRM policies and a
// SAD as XFRM ESP transport mode states over NETLINK_XFRM, and removes
// them again.
//
// Policies: one per SPD entry and MH type (the kernel selector holds one
// MH type: Linux keeps it in the source-port slot of the selector for
// IPPROTO_MH, xfrm_flowi_sport, with mask 0xffff; an entry without MH
// types gets port 0, mask 0: any type), protocol 135, direction out
// (source = Local, destination = Remote) or in (source = Remote,
// destination = Local); priority PriorityBase+i for entry i so that the
// kernel's lowest-priority-wins keeps the SPD's first-match order.
// Protect gives an ESP transport mode template (required) with the
// daemon's reqid; discard gives a block policy; bypass an allow policy
// without templates. A default action other than bypass gives a catch-all
// protocol-135 policy at PriorityBase+XFRMPrioritySpan-1 in both
// directions.
//
// States: ESP, transport mode, the SA's SPI, source and destination from
// its selector (which must then name single addresses), reqid
// XFRMOptions.Reqid; rfc4106(gcm(aes)) with a 128-bit ICV, or cbc(aes) /
// ecb(cipher_null) with hmac(sha256) truncated to 128 bits; lifetimes as
// XFRM limits. The kernel keeps a replay window of at most 32 packets
// for an SA without extended sequence numbers (xfrm_state_construct), so
// a larger window is installed as 32 (the userspace backend honours the
// configured one).
//
// Cleanup removes every protocol-135 policy in the priority range and
// every ESP state with the reqid or an SPI this XFRM installed, so a
// restart after a crash clears what the previous run left.
type XFRM struct {
	h    *netlink.Handle
	opts XFRMOptions
	log  *logrus.Entry

	installed []netlink.XfrmState // states added by Install, for Cleanup by SPI
}

// NewXFRM returns a kernel backend working through h (nil: the current
// network namespace of the calling thread).
func NewXFRM(h *netlink.Handle, opts XFRMOptions, log *logrus.Entry) *XFRM {
	if h == nil {
		h = &netlink.Handle{}
	}
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	return &XFRM{h: h, opts: opts, log: log}
}

var v6Any = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}

func ipNet(p netip.Prefix) (*net.IPNet, error) {
	if !p.IsValid() {
		return v6Any, nil // also gives the selector the IPv6 family
	}
	if !p.Addr().Is6() || p.Addr().Is4In6() {
		return nil, fmt.Errorf("%v is not an IPv6 prefix", p)
	}
	p = p.Masked()
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), 128)}, nil
}

// xfrmDir maps a direction to the kernel's.
func xfrmDir(d Direction) netlink.Dir {
	if d == Inbound {
		return netlink.XFRM_DIR_IN
	}
	return netlink.XFRM_DIR_OUT
}

// XFRMPolicies translates an SPD (in order) and its default into kernel
// policies, without installing them.
func XFRMPolicies(spd *SPD, opts XFRMOptions) ([]netlink.XfrmPolicy, error) {
	pols := spd.Policies()
	if len(pols) >= XFRMPrioritySpan {
		return nil, fmt.Errorf("ipsec: %d SPD entries do not fit the XFRM priority range of %d", len(pols), XFRMPrioritySpan)
	}
	base := opts.base()
	var out []netlink.XfrmPolicy
	for i, p := range pols {
		xs, err := xfrmPoliciesOf(p.Direction, p.Selector, p.Action, base+uint32(i), opts.reqid())
		if err != nil {
			return nil, fmt.Errorf("ipsec: %s: %w", policyName(p), err)
		}
		out = append(out, xs...)
	}
	if def := spd.Default(); def != Bypass {
		for _, d := range []Direction{Outbound, Inbound} {
			xs, _ := xfrmPoliciesOf(d, Selector{Proto: ProtoMH}, def, base+XFRMPrioritySpan-1, opts.reqid())
			out = append(out, xs...)
		}
	}
	return out, nil
}

func xfrmPoliciesOf(dir Direction, sel Selector, act Action, prio, reqid uint32) ([]netlink.XfrmPolicy, error) {
	local, err := ipNet(sel.Local)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	remote, err := ipNet(sel.Remote)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	if sel.Proto != 0 && sel.Proto != ProtoMH {
		return nil, fmt.Errorf("protocol %d: only Mobility Header (135) policies are installed", sel.Proto)
	}
	src, dst := local, remote
	if dir == Inbound {
		src, dst = remote, local
	}
	base := netlink.XfrmPolicy{
		Src: src, Dst: dst, Proto: netlink.Proto(ProtoMH),
		Dir: xfrmDir(dir), Priority: int(prio),
	}
	switch act {
	case Discard:
		base.Action = netlink.XFRM_POLICY_BLOCK
	case Protect:
		base.Action = netlink.XFRM_POLICY_ALLOW
		// Transport mode: the kernel takes the addresses from the flow;
		// "::" keeps the template's family IPv6.
		base.Tmpls = []netlink.XfrmPolicyTmpl{{
			Src: net.IPv6zero, Dst: net.IPv6zero,
			Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TRANSPORT, Reqid: int(reqid),
		}}
	default:
		base.Action = netlink.XFRM_POLICY_ALLOW
	}
	types := sel.MHTypes
	if len(types) == 0 {
		return []netlink.XfrmPolicy{base}, nil
	}
	out := make([]netlink.XfrmPolicy, 0, len(types))
	for _, t := range types {
		p := base
		// Linux: the MH type is the "source port" of an IPPROTO_MH flow
		// (xfrm_flowi_sport: htons(mh type)); netlink sets mask 0xffff
		// for a non-zero port. Type 0 (BRR) cannot be expressed this way:
		// port 0 means any.
		if t == 0 {
			return nil, fmt.Errorf("MH type 0 (BRR) cannot be selected in an XFRM selector (source port 0 means any type)")
		}
		p.SrcPort = int(t)
		p.Tmpls = slices.Clone(base.Tmpls)
		out = append(out, p)
	}
	return out, nil
}

// XFRMStates translates the SAs of sad into kernel states (with their
// keys), without installing them.
func XFRMStates(sad *SAD, opts XFRMOptions) ([]netlink.XfrmState, error) {
	var out []netlink.XfrmState
	for _, sa := range sad.SAs() {
		st, err := xfrmStateOf(sa, opts.reqid())
		if err != nil {
			return nil, fmt.Errorf("ipsec: SA %q: %w", sa.Name(), err)
		}
		out = append(out, st)
	}
	return out, nil
}

func hostIP(p netip.Prefix, what string) (net.IP, error) {
	if !p.IsValid() || p.Bits() != p.Addr().BitLen() || !p.Addr().Is6() || p.Addr().Is4In6() {
		return nil, fmt.Errorf("a kernel state needs a single IPv6 %s address, the selector has %q", what, p)
	}
	return net.IP(p.Addr().AsSlice()), nil
}

func xfrmStateOf(sa *SA, reqid uint32) (netlink.XfrmState, error) {
	sel := sa.Selector()
	local, err := hostIP(sel.Local, "local")
	if err != nil {
		return netlink.XfrmState{}, err
	}
	remote, err := hostIP(sel.Remote, "remote")
	if err != nil {
		return netlink.XfrmState{}, err
	}
	src, dst := local, remote
	if sa.Direction() == Inbound {
		src, dst = remote, local
	}
	st := netlink.XfrmState{
		Src: src, Dst: dst, Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TRANSPORT,
		Spi: int(sa.SPI()), Reqid: int(reqid),
	}
	if err := setAlgorithms(&st, sa.Encryption(), sa.p.EncryptionKey.bytes(), sa.Integrity(), sa.p.IntegrityKey.bytes()); err != nil {
		return netlink.XfrmState{}, err
	}
	if sa.Direction() == Inbound && !sa.p.DisableAntiReplay {
		w := sa.p.ReplayWindow
		if w == 0 {
			w = DefaultReplayWindowForKernel
		}
		st.ReplayWindow = min(w, kernelLegacyReplayMax)
	}
	l := sa.Lifetime()
	secs := func(d time.Duration) uint64 {
		if d <= 0 {
			return 0
		}
		return uint64(math.Ceil(d.Seconds()))
	}
	st.Limits = netlink.XfrmStateLimits{
		TimeSoft: secs(l.SoftTime), TimeHard: secs(l.HardTime),
		PacketSoft: l.SoftPackets, PacketHard: l.HardPackets,
		ByteSoft: l.SoftBytes, ByteHard: l.HardBytes,
	}
	return st, nil
}

// DefaultReplayWindowForKernel is what an inbound SA without a configured
// window asks the kernel for (it gets kernelLegacyReplayMax).
const DefaultReplayWindowForKernel = 64

// kernelLegacyReplayMax is the largest window of a non-ESN kernel SA
// (the 32-bit bitmap of struct xfrm_replay_state).
const kernelLegacyReplayMax = 32

// Kernel crypto API names of the transforms.
func setAlgorithms(st *netlink.XfrmState, enc Encryption, encKey []byte, integ Integrity, authKey []byte) error {
	switch enc {
	case EncAESGCM128, EncAESGCM256:
		st.Aead = &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: slices.Clone(encKey), ICVLen: gcmICVLen * 8}
		return nil
	case EncAESCBC128, EncAESCBC256:
		st.Crypt = &netlink.XfrmStateAlgo{Name: "cbc(aes)", Key: slices.Clone(encKey)}
	case EncNull:
		st.Crypt = &netlink.XfrmStateAlgo{Name: "ecb(cipher_null)", Key: []byte{}}
	default:
		return fmt.Errorf("encryption %v has no kernel name", enc)
	}
	if integ != IntegHMACSHA256128 {
		return fmt.Errorf("%v needs integrity hmac-sha256-128", enc)
	}
	st.Auth = &netlink.XfrmStateAlgo{Name: "hmac(sha256)", Key: slices.Clone(authKey), TruncateLen: hmacICVLen * 8}
	return nil
}

// Install removes what a previous run left (Cleanup), then adds the
// states of e.SAD and the policies of e.SPD, states first so that no
// protect policy is ever without its SA. On error, what was added is
// removed again.
func (x *XFRM) Install(e *Engine) error {
	states, err := XFRMStates(e.SAD, x.opts)
	if err != nil {
		return err
	}
	pols, err := XFRMPolicies(e.SPD, x.opts)
	if err != nil {
		return err
	}
	if err := x.Cleanup(); err != nil {
		return err
	}
	for i := range states {
		if err := x.h.XfrmStateAdd(&states[i]); err != nil {
			_ = x.Cleanup()
			return fmt.Errorf("ipsec: kernel state SPI 0x%08x %v -> %v: %w", states[i].Spi, states[i].Src, states[i].Dst, err)
		}
		x.installed = append(x.installed, netlink.XfrmState{Src: states[i].Src, Dst: states[i].Dst, Proto: states[i].Proto, Spi: states[i].Spi})
	}
	if err := x.InstallPolicies(pols); err != nil {
		_ = x.Cleanup()
		return err
	}
	x.log.WithFields(logrus.Fields{"states": len(states), "policies": len(pols)}).Info("ipsec: kernel XFRM states and policies installed")
	return nil
}

// InstallPolicies adds the given policies (from XFRMPolicies) as they
// are; on error, the ones already added stay (Cleanup removes them).
func (x *XFRM) InstallPolicies(pols []netlink.XfrmPolicy) error {
	for i := range pols {
		if err := x.h.XfrmPolicyAdd(&pols[i]); err != nil {
			return fmt.Errorf("ipsec: kernel policy %v %v -> %v proto 135 type %d: %w", pols[i].Dir, pols[i].Src, pols[i].Dst, pols[i].SrcPort, err)
		}
	}
	return nil
}

// Ours reports whether p is a policy this backend installs.
func (x *XFRM) Ours(p *netlink.XfrmPolicy) bool {
	b := x.opts.base()
	return p.Proto == netlink.Proto(ProtoMH) && uint32(p.Priority) >= b && uint32(p.Priority) < b+XFRMPrioritySpan
}

// Policies lists the kernel policies this backend owns.
func (x *XFRM) Policies() ([]netlink.XfrmPolicy, error) {
	all, err := x.h.XfrmPolicyList(netlink.FAMILY_V6)
	if err != nil {
		return nil, fmt.Errorf("ipsec: listing XFRM policies: %w", err)
	}
	var out []netlink.XfrmPolicy
	for i := range all {
		if x.Ours(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// States lists the kernel ESP states this backend owns (by reqid or SPI).
func (x *XFRM) States() ([]netlink.XfrmState, error) {
	all, err := x.h.XfrmStateList(netlink.FAMILY_V6)
	if err != nil {
		return nil, fmt.Errorf("ipsec: listing XFRM states: %w", err)
	}
	var out []netlink.XfrmState
	for _, s := range all {
		if s.Proto != netlink.XFRM_PROTO_ESP {
			continue
		}
		mine := uint32(s.Reqid) == x.opts.reqid()
		for _, i := range x.installed {
			if i.Spi == s.Spi && i.Dst.Equal(s.Dst) {
				mine = true
			}
		}
		if mine {
			out = append(out, s)
		}
	}
	return out, nil
}

// Cleanup removes this backend's policies (protocol 135, priority in
// range) and states (reqid, or an SPI it installed). It reports the
// first failure but tries everything.
func (x *XFRM) Cleanup() error {
	var errs []error
	pols, err := x.Policies()
	if err != nil {
		errs = append(errs, err)
	}
	for i := range pols {
		if err := x.h.XfrmPolicyDel(&pols[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("ipsec: deleting XFRM policy %v: %w", pols[i], err))
		}
	}
	states, err := x.States()
	if err != nil {
		errs = append(errs, err)
	}
	for i := range states {
		del := netlink.XfrmState{Src: states[i].Src, Dst: states[i].Dst, Proto: states[i].Proto, Spi: states[i].Spi, Mark: states[i].Mark}
		if err := x.h.XfrmStateDel(&del); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("ipsec: deleting XFRM state SPI 0x%08x: %w", states[i].Spi, err))
		}
	}
	if len(errs) == 0 {
		x.installed = nil
	}
	return errors.Join(errs...)
}

// Probe addresses: the discard-only prefix (RFC 6666), never routed.
var (
	probeSrc = net.ParseIP("100::1")
	probeDst = net.ParseIP("100::2")
)

// probeSPI is the SPI of the throw-away probe state.
const probeSPI = 0xfffffe01

type transform struct {
	enc   Encryption
	integ Integrity
}

// ProbeKernel finds out, by trying in the network namespace of h (nil:
// the calling thread's), whether XFRM policies with an MH type selector
// and IPv6 ESP transport mode states can be added; everything it adds
// (on the discard-only prefix 100::/64) it deletes again. transforms
// (pairs from the configuration; none: AES-GCM-128) are each tried as a
// state.
func ProbeKernel(h *netlink.Handle, c *Config) KernelProbe {
	if h == nil {
		h = &netlink.Handle{}
	}
	var p KernelProbe
	pol := netlink.XfrmPolicy{
		Src: &net.IPNet{IP: probeSrc, Mask: net.CIDRMask(128, 128)}, Dst: &net.IPNet{IP: probeDst, Mask: net.CIDRMask(128, 128)},
		Proto: netlink.Proto(ProtoMH), SrcPort: 5, Dir: netlink.XFRM_DIR_OUT, Priority: DefaultXFRMPriorityBase + XFRMPrioritySpan - 2,
	}
	if err := h.XfrmPolicyAdd(&pol); err != nil && !errors.Is(err, unix.EEXIST) {
		p.XFRMErr = describeErrno(err)
		return p
	}
	_ = h.XfrmPolicyDel(&pol)
	p.XFRM = true

	// The kernel checks the algorithms (attach_aead, attach_auth,
	// attach_crypt: ENOSYS when the crypto API lacks one) before it looks
	// for the ESP type (xfrm_init_state: EPROTONOSUPPORT without esp6).
	// So besides the configured transforms, the probe tries two that
	// every kernel with ESP has, to tell "no esp6" from "no algorithm".
	ts := transformsOf(c)
	cands := slices.Clone(ts)
	for _, t := range []transform{{EncAESCBC128, IntegHMACSHA256128}, {EncNull, IntegHMACSHA256128}} {
		if !slices.Contains(cands, t) {
			cands = append(cands, t)
		}
	}
	p.ESP = true
	for i, tr := range cands {
		configured := i < len(ts)
		err := probeState(h, tr)
		res := "ok"
		if err != nil {
			res = describeErrno(err)
		}
		p.Tried = append(p.Tried, algoName(tr)+": "+res)
		switch {
		case err == nil:
			continue
		case errors.Is(err, unix.EPROTONOSUPPORT):
			// xfrm_init_state: no xfrm_type for (AF_INET6, IPPROTO_ESP).
			p.NoESP6 = true
		case configured && (errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOENT)):
			p.NoAlgorithm = append(p.NoAlgorithm, algoName(tr))
		}
		if configured {
			p.ESP = false
			if p.ESPErr == "" {
				p.ESPErr = res
			}
		}
	}
	if p.NoESP6 {
		p.ESP = false
		p.ESPErr = "EPROTONOSUPPORT (protocol not supported)"
	}
	return p
}

// probeState adds and deletes a throw-away ESP state with transform tr.
func probeState(h *netlink.Handle, tr transform) error {
	key := make([]byte, tr.enc.KeyLen())
	_, _ = rand.Read(key)
	var authKey []byte
	if tr.integ == IntegHMACSHA256128 {
		authKey = make([]byte, hmacKeyLen)
		_, _ = rand.Read(authKey)
	}
	st := netlink.XfrmState{Src: probeSrc, Dst: probeDst, Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TRANSPORT, Spi: probeSPI}
	if err := setAlgorithms(&st, tr.enc, key, tr.integ, authKey); err != nil {
		return err
	}
	err := h.XfrmStateAdd(&st)
	switch {
	case err == nil:
		_ = h.XfrmStateDel(&netlink.XfrmState{Src: probeSrc, Dst: probeDst, Proto: netlink.XFRM_PROTO_ESP, Spi: probeSPI})
	case errors.Is(err, unix.EEXIST):
		// The state was constructed (algorithms and ESP type found)
		// before the duplicate was noticed.
		err = nil
	}
	return err
}

func algoName(tr transform) string {
	var st netlink.XfrmState
	_ = setAlgorithms(&st, tr.enc, make([]byte, tr.enc.KeyLen()), tr.integ, nil)
	switch {
	case st.Aead != nil:
		return st.Aead.Name
	case st.Auth != nil:
		return st.Crypt.Name + " with " + st.Auth.Name
	}
	return tr.enc.String()
}

// describeErrno names the errno in an error from netlink, e.g.
// "EPROTONOSUPPORT (protocol not supported)".
func describeErrno(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		if name := unix.ErrnoName(e); name != "" {
			return fmt.Sprintf("%s (%v)", name, err)
		}
	}
	return err.Error()
}

func transformsOf(c *Config) []transform {
	var out []transform
	if c != nil {
		for _, s := range c.SAs {
			e, err1 := ParseEncryption(s.Encryption)
			i, err2 := ParseIntegrity(s.Integrity)
			if err1 != nil || err2 != nil || checkTransforms(e, i) != nil {
				continue
			}
			if t := (transform{e, i}); !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	if len(out) == 0 {
		out = []transform{{EncAESGCM128, IntegNone}}
	}
	return out
}

// Probe probes the kernel of the calling thread's network namespace (h
// nil) or of h, and says which backend "auto" picks and why.
func Probe(h *netlink.Handle) Choice {
	c, _ := decide(BackendAuto, ProbeKernel(h, nil))
	return c
}

// Choose picks the backend s asks for, probing the kernel unless it asks
// for userspace, and logs the choice with its reason. A configured kernel
// backend that the kernel cannot run is an error, with the probe's reason.
func Choose(s Settings, h *netlink.Handle, log *logrus.Entry) (Choice, error) {
	mode, err := ParseBackend(s.Backend)
	if err != nil {
		return Choice{}, err
	}
	var p KernelProbe
	if mode != BackendUserspace {
		p = ProbeKernel(h, &s.Config)
	}
	c, err := decide(mode, p)
	if err != nil {
		return c, err
	}
	if mode == BackendExternal && !p.ESP {
		c.Reason += "; warning: " + p.why() + ", so the IKE daemon cannot install SAs here"
	}
	logChoice(log, c)
	return c, nil
}
