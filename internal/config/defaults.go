package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/sirupsen/logrus"
)

// Defaults (RFC 5213 §9, RFC 5847 §5, RFC 5846 §11, RFC 6275 §12,
// RFC 6543, RFC 4861 §6.2.1).
const (
	DefaultStateDir   = "/var/lib/pmipd"
	DefaultSocket     = "/run/pmipd/pmipd.sock"
	DefaultMetrics    = "127.0.0.1:9469"
	DefaultAssignLen  = 64
	MaxLifetime       = 0xFFFF * 4 * time.Second // largest lifetime a BU/BA carries (262140s)
	LifetimeUnit      = 4 * time.Second
	DefaultMAGLife    = 3600 * time.Second
	DefaultMTU        = 1460
	DefaultRAInterval = 30 * time.Second

	DefaultMinDelayBeforeBCEDelete    = 10 * time.Second
	DefaultMaxDelayBeforeNewBCEAssign = 1500 * time.Millisecond
	DefaultTimestampValidityWindow    = 300 * time.Millisecond

	DefaultHeartbeatInterval = 60 * time.Second
	MinHeartbeatInterval     = 30 * time.Second
	MaxHeartbeatInterval     = 3600 * time.Second
	DefaultMissingHeartbeats = 3

	DefaultBRIInitDelay  = time.Second
	MinBRIInitDelay      = 500 * time.Millisecond
	DefaultBRIMaxTimeout = 2 * time.Second
	DefaultBRIMaxRetries = 1

	DefaultInitialBindAckTimeout = time.Second
	DefaultMaxBindAckTimeout     = 32 * time.Second
	DefaultMaxUpdateRate         = 3

	DefaultReregisterFraction = 0.2

	DefaultValidLifetime     = 30 * 24 * time.Hour
	DefaultPreferredLifetime = 7 * 24 * time.Hour
)

// RFC 6543 fixed MAG addresses.
var (
	DefaultLinkLocal = netip.MustParseAddr("fe80::200:5eff:fe00:5213")
	DefaultLinkLayer = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x52, 0x13}
)

// applyDefaults fills the keys absent from the file (present holds the
// dotted keys the file sets).
func applyDefaults(c *Config, present map[string]bool) {
	set := func(key string) bool { return present[key] }

	if !set("node.name") {
		c.Node.Name = "pmipd"
		if h, err := os.Hostname(); err == nil && h != "" {
			c.Node.Name = h
		}
	}
	if !set("node.log_level") {
		c.Node.LogLevel = logrus.InfoLevel
	}
	if !set("node.state_dir") {
		c.Node.StateDir = DefaultStateDir
	}
	if !set("dataplane.driver") {
		c.Dataplane.Driver = DriverAuto
	}
	if !set("dataplane.tunnel_interface") {
		c.Dataplane.TunnelInterface = c.Transport.Interface
	}
	if !set("management.socket") {
		c.Management.Socket = DefaultSocket
	}
	if !set("metrics.listen") {
		c.Metrics.Listen = DefaultMetrics
	}

	// lma
	l := &c.LMA
	if !set("lma.address") {
		l.Address = c.Transport.Address
	}
	for i := range l.Pools {
		if !set(fmt.Sprintf("lma.pools[%d].assign_length", i)) {
			l.Pools[i].AssignLength = DefaultAssignLen
		}
	}
	for i := range l.MobileNodes {
		if !set(fmt.Sprintf("lma.mobile_nodes[%d].allowed", i)) {
			l.MobileNodes[i].Allowed = true
		}
	}
	durDefault(set, "lma.timers.min_delay_before_bce_delete", &l.Timers.MinDelayBeforeBCEDelete, DefaultMinDelayBeforeBCEDelete)
	durDefault(set, "lma.timers.max_delay_before_new_bce_assign", &l.Timers.MaxDelayBeforeNewBCEAssign, DefaultMaxDelayBeforeNewBCEAssign)
	durDefault(set, "lma.timers.timestamp_validity_window", &l.Timers.TimestampValidityWindow, DefaultTimestampValidityWindow)
	if !set("lma.wait_for_deregistration_on_hi4") {
		l.WaitForDeregistrationOnHI4 = true
	}
	durDefault(set, "lma.max_lifetime", &l.MaxLifetime, MaxLifetime)
	if !set("lma.ordering") {
		l.Ordering = OrderingTimestamp
	}
	heartbeatDefaults(set, "lma.heartbeat", &l.Heartbeat)
	durDefault(set, "lma.revocation.init_delay", &l.Revocation.InitDelay, DefaultBRIInitDelay)
	durDefault(set, "lma.revocation.max_timeout", &l.Revocation.MaxTimeout, DefaultBRIMaxTimeout)
	if !set("lma.revocation.max_retries") {
		l.Revocation.MaxRetries = DefaultBRIMaxRetries
	}

	// mag
	m := &c.MAG
	if !set("mag.address") {
		m.Address = c.Transport.Address
	}
	for i := range m.Access {
		if !set(fmt.Sprintf("mag.access[%d].att", i)) {
			m.Access[i].ATT = mh.ATT8023
		}
		if !set(fmt.Sprintf("mag.access[%d].mn_id_from", i)) {
			m.Access[i].MNIDFrom = MNIDFromMAC
		}
		if !set(fmt.Sprintf("mag.access[%d].attach_handoff_indicator", i)) {
			m.Access[i].AttachHI = uint8(mh.HIAttachNewInterface)
		}
		if !set(fmt.Sprintf("mag.access[%d].moved_handoff_indicator", i)) {
			m.Access[i].MovedHI = uint8(mh.HIHandoffBetweenMAGs)
		}
	}
	for i := range m.MobileNodes {
		if !set(fmt.Sprintf("mag.mobile_nodes[%d].lma", i)) {
			m.MobileNodes[i].LMA = m.LMAAddress
		}
	}
	durDefault(set, "mag.lifetime", &m.Lifetime, DefaultMAGLife)
	durDefault(set, "mag.retransmission.initial", &m.Retransmission.Initial, DefaultInitialBindAckTimeout)
	durDefault(set, "mag.retransmission.max", &m.Retransmission.Max, DefaultMaxBindAckTimeout)
	if !set("mag.retransmission.max_rate") {
		m.Retransmission.MaxRate = DefaultMaxUpdateRate
	}
	if !set("mag.reregister_before") {
		m.ReregisterBefore = ReregisterBefore{Fraction: DefaultReregisterFraction}
	}
	ra := &m.RouterAdvertisement
	durDefault(set, "mag.router_advertisement.interval", &ra.Interval, DefaultRAInterval)
	durDefault(set, "mag.router_advertisement.router_lifetime", &ra.RouterLifetime, 3*ra.Interval)
	if !set("mag.router_advertisement.mtu") {
		ra.MTU = DefaultMTU
	}
	durDefault(set, "mag.router_advertisement.valid_lifetime", &ra.ValidLifetime, DefaultValidLifetime)
	durDefault(set, "mag.router_advertisement.preferred_lifetime", &ra.PreferredLifetime, DefaultPreferredLifetime)
	if !set("mag.link_local_address") {
		m.LinkLocalAddress = DefaultLinkLocal
	}
	if !set("mag.link_layer_address") {
		m.LinkLayerAddress = append(net.HardwareAddr(nil), DefaultLinkLayer...)
	}
	heartbeatDefaults(set, "mag.heartbeat", &m.Heartbeat)

	dmmDefaults(c, set)
}

func durDefault(set func(string) bool, key string, d *time.Duration, v time.Duration) {
	if !set(key) {
		*d = v
	}
}

func heartbeatDefaults(set func(string) bool, key string, h *Heartbeat) {
	if !set(key + ".enabled") {
		h.Enabled = true
	}
	durDefault(set, key+".interval", &h.Interval, DefaultHeartbeatInterval)
	if !set(key + ".missing_allowed") {
		h.MissingAllowed = DefaultMissingHeartbeats
	}
}
