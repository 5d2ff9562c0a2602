package ipsec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sirupsen/logrus"
)

// Backend names who does ESP for the signalling described by a Config.
type Backend string

// Backends. One Config (SPD and SAD) drives each of them.
const (
	// BackendAuto probes the kernel (Probe) and picks BackendKernel where
	// it accepts ESP states, BackendUserspace where it does not.
	BackendAuto Backend = "auto"
	// BackendKernel installs the SPD as XFRM policies (protocol 135, MH
	// type in the source-port slot) and the SAD as XFRM ESP transport
	// mode states over netlink; the daemon then sends and receives clear
	// Mobility Headers on its ip6:135 socket and the kernel does ESP.
	BackendKernel Backend = "kernel"
	// BackendUserspace installs nothing in the kernel: the daemon seals
	// and opens ESP itself (Engine) on an ip6:50 socket beside its ip6:135
	// one (package internal/esptransport). For kernels with XFRM but no
	// esp6.
	BackendUserspace Backend = "userspace"
	// BackendExternal leaves SAs and policies to an IKEv2 daemon such as
	// strongSwan: this daemon installs nothing and sends clear Mobility
	// Headers, which the kernel protects by the IKE daemon's policies; the
	// kernel's inbound policy check drops unprotected ones before the
	// ip6:135 socket sees them. The Config's SAs are not used (policies
	// may still be listed, for documentation and for Probe's checks).
	BackendExternal Backend = "external"
)

// ParseBackend accepts "", "auto", "kernel", "userspace" and "external"
// ("" is auto).
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(strings.ToLower(strings.TrimSpace(s))); b {
	case "":
		return BackendAuto, nil
	case BackendAuto, BackendKernel, BackendUserspace, BackendExternal:
		return b, nil
	}
	return "", fmt.Errorf("unknown backend %q (want auto, kernel, userspace or external)", s)
}

// Settings is the daemon's ipsec section: the Config (SPD, SAD, keys)
// and the choice of backend. The Config's keys sit at the same level
// (mapstructure squash), so an ipsec section reads:
//
//	ipsec:
//	  backend: auto          # auto | kernel | userspace | external
//	  xfrm: {priority_base: 20000, reqid: 0x504d}
//	  default_action: bypass
//	  key_dir: /etc/pmipd/keys
//	  sas: [...]
//	  policies: [...]
type Settings struct {
	Config  `mapstructure:",squash"`
	Backend string      `mapstructure:"backend" json:"backend,omitempty"`
	XFRM    XFRMOptions `mapstructure:"xfrm" json:"xfrm,omitzero"`
}

// Validate checks the Config and the backend fields; every error is a
// *FieldError naming the field.
func (s Settings) Validate() error {
	var errs fieldErrs
	if err := s.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseBackend(s.Backend); err != nil {
		errs.add("backend", "%v", err)
	}
	if err := s.XFRM.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// XFRMOptions tune the kernel backend's tags.
type XFRMOptions struct {
	// PriorityBase is the XFRM priority of the first SPD entry; entry i
	// gets PriorityBase+i and the default action PriorityBase+PrioritySpan-1.
	// Lower values win in the kernel, so the SPD order is kept. Cleanup
	// removes every protocol-135 policy in [PriorityBase,
	// PriorityBase+PrioritySpan). 0 means DefaultXFRMPriorityBase.
	PriorityBase uint32 `mapstructure:"priority_base" json:"priority_base,omitempty"`
	// Reqid tags the states this daemon installs (0: DefaultXFRMReqid).
	Reqid uint32 `mapstructure:"reqid" json:"reqid,omitempty"`
}

// Kernel tags.
const (
	// DefaultXFRMPriorityBase puts this daemon's policies ahead of
	// strongSwan's (which start in the hundreds of thousands) so that an
	// explicit bypass or discard here is not overridden.
	DefaultXFRMPriorityBase = 20000
	// XFRMPrioritySpan is the size of the priority range (SPD entries
	// plus the default).
	XFRMPrioritySpan = 1000
	// DefaultXFRMReqid tags states ("PM").
	DefaultXFRMReqid = 0x504d
)

func (o XFRMOptions) base() uint32 {
	if o.PriorityBase == 0 {
		return DefaultXFRMPriorityBase
	}
	return o.PriorityBase
}

func (o XFRMOptions) reqid() uint32 {
	if o.Reqid == 0 {
		return DefaultXFRMReqid
	}
	return o.Reqid
}

func (o XFRMOptions) validate() error {
	if o.PriorityBase > ^uint32(0)-XFRMPrioritySpan {
		return &FieldError{Field: "xfrm.priority_base", Reason: fmt.Sprintf("%d leaves no room for %d priorities", o.PriorityBase, XFRMPrioritySpan)}
	}
	return nil
}

// Choice is the backend picked for a node and why.
type Choice struct {
	Backend Backend `json:"backend"`
	Reason  string  `json:"reason"`
	// Kernel is what Probe found (zero when the backend was configured
	// explicitly as userspace or external and nothing was probed).
	Kernel KernelProbe `json:"kernel"`
}

func (c Choice) String() string { return fmt.Sprintf("%s: %s", c.Backend, c.Reason) }

// KernelProbe is what the kernel supports, found by trying.
type KernelProbe struct {
	// XFRM: a protocol-135 policy with an MH type selector could be added
	// and deleted over NETLINK_XFRM.
	XFRM    bool   `json:"xfrm"`
	XFRMErr string `json:"xfrm_error,omitempty"`
	// ESP: an IPv6 ESP transport mode state could be added (and was
	// deleted again) for every transform probed.
	ESP    bool   `json:"esp"`
	ESPErr string `json:"esp_error,omitempty"`
	// NoESP6: the state was refused with EPROTONOSUPPORT, which is what
	// the kernel answers when no xfrm type is registered for ESP over
	// IPv6 (esp6 neither built in nor loadable).
	NoESP6 bool `json:"no_esp6,omitempty"`
	// NoAlgorithm names the configured transforms the kernel's crypto
	// API lacks (ENOSYS/ENOENT for the algorithm).
	NoAlgorithm []string `json:"no_algorithm,omitempty"`
	// Tried lists every transform tried as a state and the outcome.
	Tried []string `json:"tried,omitempty"`
}

// decide picks the backend for mode from a probe result.
func decide(mode Backend, p KernelProbe) (Choice, error) {
	c := Choice{Backend: mode, Kernel: p}
	switch mode {
	case BackendUserspace:
		c.Reason = "configured: the daemon does ESP on its own sockets"
	case BackendExternal:
		c.Reason = "configured: SAs and policies are managed by an IKEv2 daemon; signalling is sent in the clear for the kernel to protect"
	case BackendKernel:
		if !p.ESP {
			return c, fmt.Errorf("ipsec: backend kernel is configured but the kernel cannot do it: %s", p.why())
		}
		c.Reason = "configured; the kernel accepts XFRM policies and ESP states"
	case BackendAuto:
		if p.ESP {
			c.Backend = BackendKernel
			c.Reason = "probe: the kernel accepts XFRM policies with MH type selectors and IPv6 ESP transport mode states"
		} else {
			c.Backend = BackendUserspace
			c.Reason = "probe: " + p.why() + "; the daemon does ESP itself"
		}
	default:
		return c, fmt.Errorf("ipsec: unknown backend %q", mode)
	}
	return c, nil
}

func (p KernelProbe) why() string {
	switch {
	case !p.XFRM:
		return "the kernel has no usable XFRM (" + p.XFRMErr + ")"
	case p.NoESP6:
		s := "the kernel has XFRM but no ESP for IPv6 (esp6): adding an ESP state fails with " + p.ESPErr
		if len(p.NoAlgorithm) > 0 {
			s += ", and its crypto API lacks " + strings.Join(p.NoAlgorithm, ", ")
		}
		return s
	case len(p.NoAlgorithm) > 0:
		return "the kernel's crypto API lacks " + strings.Join(p.NoAlgorithm, ", ") + " (" + p.ESPErr + ")"
	case !p.ESP:
		return "adding an ESP state fails (" + p.ESPErr + ")"
	}
	return "the kernel supports XFRM and ESP"
}

// logChoice logs c at info (warn when the configured backend was
// overridden by nothing: only informative).
func logChoice(log *logrus.Entry, c Choice) {
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	log.WithFields(logrus.Fields{
		"backend": string(c.Backend), "kernel_xfrm": c.Kernel.XFRM, "kernel_esp": c.Kernel.ESP,
	}).Info("ipsec: signalling protection backend: " + c.Reason)
}
