package main

import (
	"net"
	"testing"
	"time"
)

// TestReceiveStats: a stream with a hole of 20 packets behind a 150 ms
// pause, a duplicate and a late packet is measured exactly.
func TestReceiveStats(t *testing.T) {
	rc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sc, err := net.Dial("udp4", rc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	res := make(chan StreamStats, 1)
	go func() { res <- receive(rc, time.Now().Add(5*time.Second)) }()

	b := make([]byte, 64)
	put := func(seq uint64, kind byte) {
		encodePkt(b, seq, time.Now(), kind)
		if _, err := sc.Write(b); err != nil {
			t.Error(err)
		}
		time.Sleep(time.Millisecond)
	}
	for seq := uint64(0); seq < 100; seq++ {
		if seq >= 40 && seq < 60 { // lost, behind a pause
			if seq == 40 {
				time.Sleep(150 * time.Millisecond)
			}
			continue
		}
		put(seq, kindData)
		if seq == 70 {
			put(70, kindData) // duplicate
			put(65, kindData) // late copy of one already received
		}
	}
	put(100, kindFin)
	_, _ = sc.Write([]byte("not a stream packet"))
	st := <-res
	if st.Sent != 100 || st.Received != 80 || st.Lost != 20 || st.Duplicates != 2 || !st.FinSeen {
		t.Errorf("counts: %+v", st)
	}
	if st.LossGapAfterSeq != 39 || st.LossGapMissing != 20 || st.LossGap < 0.15 || st.LossGap > 1 {
		t.Errorf("loss gap: %+v", st)
	}
	if st.LongestGap != st.LossGap || st.GapAfterSeq != 39 {
		t.Errorf("longest gap %v after #%d, want the loss gap", st.LongestGap, st.GapAfterSeq)
	}
}

// TestSendPacing: send emits rate x duration packets, then FINs.
func TestSendPacing(t *testing.T) {
	rc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sc, err := net.Dial("udp4", rc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	res := make(chan StreamStats, 1)
	go func() { res <- receive(rc, time.Now().Add(5*time.Second)) }()
	start := time.Now()
	sent, errs, failed := send(sc, 200, 500*time.Millisecond)
	if sent != 100 || errs != 0 || len(failed) != 0 {
		t.Errorf("sent %d (%d errors), want 100", sent, errs)
	}
	if d := time.Since(start); d < 450*time.Millisecond || d > 2*time.Second {
		t.Errorf("took %v for 100 packets at 200/s", d)
	}
	st := <-res
	if st.Sent != 100 || st.Received != 100 || st.Lost != 0 {
		t.Errorf("%+v", st)
	}
}

// TestSendFailures: on a connected socket, the ICMP error an earlier
// packet drew (port unreachable: nobody listens) fails a later write;
// send counts it and reports which sequence numbers were never sent.
func TestSendFailures(t *testing.T) {
	rc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := rc.LocalAddr().String()
	rc.Close() // nobody listens there now
	sc, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sent, errs, failed := send(sc, 100, 200*time.Millisecond)
	if sent != 20 || errs == 0 || len(failed) == 0 || len(failed) > maxSendFailures || len(failed) > errs {
		t.Fatalf("sent %d, %d errors, failures %v", sent, errs, failed)
	}
	for i, f := range failed {
		if f.err == nil || f.seq >= 20 || (i > 0 && f.seq <= failed[i-1].seq) {
			t.Errorf("failure %d: %+v", i, f)
		}
	}
	t.Logf("%d of %d writes failed, first: seq %d: %v", errs, sent, failed[0].seq, failed[0].err)
}
