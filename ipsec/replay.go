package ipsec

// Anti-replay window sizes (RFC 4303 §3.4.3: at least 32, 64 by default).
const (
	DefaultReplayWindow = 64
	MinReplayWindow     = 64
	MaxReplayWindow     = 1024
)

// replayWindow is the receiver's sliding window of RFC 4303 §3.4.3 for
// 32-bit sequence numbers. top is the highest sequence number accepted so
// far (0: none); the bit for sequence number s lives at s mod size in a
// ring, so sliding the window only clears the bits it passes over.
type replayWindow struct {
	size uint32
	top  uint32
	bits []uint64
}

func newReplayWindow(size int) replayWindow {
	if size <= 0 {
		size = DefaultReplayWindow
	}
	return replayWindow{size: uint32(size), bits: make([]uint64, (size+63)/64)}
}

func (w *replayWindow) bit(s uint32) (word int, mask uint64) {
	i := s % w.size
	return int(i / 64), 1 << (i % 64)
}

// check reports whether seq may be accepted: not 0, not left of the
// window, not already seen. It changes nothing (RFC 4303 §3.4.3: the
// window is updated only once the ICV verifies).
func (w *replayWindow) check(seq uint32) error {
	switch {
	case seq == 0:
		return ErrReplay // the first packet sent on an SA has 1
	case seq > w.top:
		return nil
	case w.top-seq >= w.size:
		return ErrReplay // left of the window
	}
	i, m := w.bit(seq)
	if w.bits[i]&m != 0 {
		return ErrReplay
	}
	return nil
}

// accept records seq, sliding the window when seq is new on the right.
// The caller has called check under the same lock.
func (w *replayWindow) accept(seq uint32) {
	if seq > w.top {
		if d := seq - w.top; d >= w.size {
			clear(w.bits)
		} else {
			for s := w.top + 1; s != seq; s++ {
				i, m := w.bit(s)
				w.bits[i] &^= m
			}
		}
		w.top = seq
	}
	i, m := w.bit(seq)
	w.bits[i] |= m
}
