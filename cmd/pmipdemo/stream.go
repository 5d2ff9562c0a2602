package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"time"
)

// A stream packet: magic, sequence number (from 0), send time (Unix ns),
// kind. The FIN packets (sent several times at the end) carry the number
// of data packets sent in the sequence field.
const (
	streamMagic = 0x504d4453 // "PMDS"
	pktLen      = 4 + 8 + 8 + 1
	kindData    = 0
	kindFin     = 1
)

func encodePkt(b []byte, seq uint64, t time.Time, kind byte) {
	binary.BigEndian.PutUint32(b[0:], streamMagic)
	binary.BigEndian.PutUint64(b[4:], seq)
	binary.BigEndian.PutUint64(b[12:], uint64(t.UnixNano()))
	b[20] = kind
}

// StreamStats is what the receiver measured.
type StreamStats struct {
	Sent       uint64  `json:"sent"`        // from the sender's FIN (0: no FIN seen)
	Received   uint64  `json:"received"`    // distinct sequence numbers
	Duplicates uint64  `json:"duplicates"`  // repeated sequence numbers
	Reordered  uint64  `json:"reordered"`   // arrived after a higher number
	Lost       uint64  `json:"lost"`        // Sent (or highest+1) minus Received
	LongestGap float64 `json:"longest_gap"` // seconds between two consecutive arrivals
	// GapAfterSeq is the last sequence number before the longest gap,
	// GapMissing how many numbers the gap skipped.
	GapAfterSeq uint64  `json:"gap_after_seq"`
	GapMissing  uint64  `json:"gap_missing"`
	GapStart    float64 `json:"gap_start"` // seconds after the first arrival
	// The longest gap across which sequence numbers went missing (the
	// outage of a handover, as opposed to a scheduling pause).
	LossGap         float64 `json:"loss_gap"`
	LossGapAfterSeq uint64  `json:"loss_gap_after_seq"`
	LossGapMissing  uint64  `json:"loss_gap_missing"`
	LossGapStart    float64 `json:"loss_gap_start"`
	Duration        float64 `json:"duration"` // first to last arrival, seconds
	FinSeen         bool    `json:"fin_seen"`
}

func (s StreamStats) String() string {
	out := fmt.Sprintf("sent %d, received %d, lost %d, duplicates %d, reordered %d; longest gap %.1f ms (after #%d, %d missing, %.2f s into the stream)",
		s.Sent, s.Received, s.Lost, s.Duplicates, s.Reordered, s.LongestGap*1000, s.GapAfterSeq, s.GapMissing, s.GapStart)
	if s.LossGapMissing > 0 && s.LossGap != s.LongestGap {
		out += fmt.Sprintf("; longest gap with losses %.1f ms (after #%d, %d missing, %.2f s into the stream)",
			s.LossGap*1000, s.LossGapAfterSeq, s.LossGapMissing, s.LossGapStart)
	}
	return out
}

func cmdRecv(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pmipdemo recv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "[::]:5000", "UDP `address` to listen on")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long without a FIN")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	if fs.Parse(args) != nil {
		return 2
	}
	c, err := net.ListenPacket("udp6", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "pmipdemo recv:", err)
		return 1
	}
	defer c.Close()
	fmt.Fprintf(stderr, "listening on %s\n", c.LocalAddr())
	st := receive(c, time.Now().Add(*timeout))
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(st)
	} else {
		fmt.Fprintln(stdout, st)
	}
	return 0
}

// receive counts stream packets until a FIN or the deadline.
func receive(c net.PacketConn, deadline time.Time) StreamStats {
	var st StreamStats
	seen := map[uint64]bool{}
	buf := make([]byte, 2048)
	var first, last time.Time
	var lastSeq, highest uint64
	have := false
	for {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			break
		}
		now := time.Now()
		if n < pktLen || binary.BigEndian.Uint32(buf) != streamMagic {
			continue
		}
		seq := binary.BigEndian.Uint64(buf[4:])
		if buf[20] == kindFin {
			st.Sent, st.FinSeen = seq, true
			// Stragglers may still be queued: read them for a moment.
			deadline = now.Add(200 * time.Millisecond)
			continue
		}
		if seen[seq] {
			st.Duplicates++
			continue
		}
		seen[seq] = true
		st.Received++
		if !have {
			first, last, lastSeq, highest, have = now, now, seq, seq, true
			continue
		}
		var missing uint64
		if seq > lastSeq {
			missing = seq - lastSeq - 1
		}
		gap := now.Sub(last).Seconds()
		if gap > st.LongestGap {
			st.LongestGap, st.GapAfterSeq, st.GapMissing, st.GapStart = gap, lastSeq, missing, last.Sub(first).Seconds()
		}
		if missing > 0 && gap > st.LossGap {
			st.LossGap, st.LossGapAfterSeq, st.LossGapMissing, st.LossGapStart = gap, lastSeq, missing, last.Sub(first).Seconds()
		}
		if seq < highest {
			st.Reordered++
		} else {
			highest = seq
		}
		last, lastSeq = now, seq
	}
	if have {
		st.Duration = last.Sub(first).Seconds()
	}
	total := st.Sent
	if !st.FinSeen && have {
		total = highest + 1
	}
	if total > st.Received {
		st.Lost = total - st.Received
	}
	return st
}

func cmdSend(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pmipdemo send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "UDP `address` of the receiver, e.g. [2001:db8:c::2]:5000 (required)")
	rate := fs.Int("rate", 500, "packets per second (1 to 10000)")
	dur := fs.Duration("duration", 5*time.Second, "how long to send (at most 10m)")
	if fs.Parse(args) != nil {
		return 2
	}
	if *to == "" || *rate < 1 || *rate > 10000 || *dur <= 0 || *dur > 10*time.Minute {
		fs.Usage()
		return 2
	}
	c, err := net.Dial("udp6", *to)
	if err != nil {
		fmt.Fprintln(stderr, "pmipdemo send:", err)
		return 1
	}
	defer c.Close()
	sent, errs, failed := send(c, *rate, *dur)
	fmt.Fprintf(stdout, "sent %d packets to %s at %d/s for %v (%d send errors)\n", sent, *to, *rate, *dur, errs)
	for _, f := range failed {
		fmt.Fprintf(stdout, "send error: seq %d not sent: %v\n", f.seq, f.err)
	}
	return 0
}

// sendFailure is a data packet whose write failed (so it was never sent).
type sendFailure struct {
	seq uint64
	err error
}

// maxSendFailures bounds the failures send reports one by one.
const maxSendFailures = 10

// send paces packets at rate per second for d (a bounded loop: at most
// rate*d packets), then sends 5 FINs 20 ms apart. Send errors (no route
// while the tunnel moves; on a connected socket, an ICMPv6 error that came
// back for an earlier packet fails the next write, which is then never
// sent) are counted, not fatal; the first maxSendFailures are returned.
func send(c net.Conn, rate int, d time.Duration) (sent uint64, errs int, failed []sendFailure) {
	interval := time.Second / time.Duration(rate)
	total := uint64(d / interval)
	b := make([]byte, 64)
	start := time.Now()
	for seq := uint64(0); seq < total; seq++ {
		if wait := time.Until(start.Add(time.Duration(seq) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		encodePkt(b, seq, time.Now(), kindData)
		if _, err := c.Write(b); err != nil {
			errs++
			if len(failed) < maxSendFailures {
				failed = append(failed, sendFailure{seq, err})
			}
		}
		sent++
	}
	for i := 0; i < 5; i++ {
		encodePkt(b, sent, time.Now(), kindFin)
		_, _ = c.Write(b)
		time.Sleep(20 * time.Millisecond)
	}
	return sent, errs, failed
}
