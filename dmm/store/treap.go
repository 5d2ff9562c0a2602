package store

import "strings"

// treap is an ordered set of keys (a randomized binary search tree) used by
// the memory backend for List by prefix. Expected depth O(log n).
type treap struct {
	root *tnode
	rnd  uint64
}

type tnode struct {
	key         string
	prio        uint64
	left, right *tnode
}

func (t *treap) next() uint64 {
	// xorshift64*; deterministic, no global state.
	if t.rnd == 0 {
		t.rnd = 0x9e3779b97f4a7c15
	}
	t.rnd ^= t.rnd >> 12
	t.rnd ^= t.rnd << 25
	t.rnd ^= t.rnd >> 27
	return t.rnd * 2685821657736338717
}

// split returns the nodes < key and the nodes >= key.
func split(n *tnode, key string) (*tnode, *tnode) {
	if n == nil {
		return nil, nil
	}
	if n.key < key {
		l, r := split(n.right, key)
		n.right = l
		return n, r
	}
	l, r := split(n.left, key)
	n.left = r
	return l, n
}

func merge(a, b *tnode) *tnode {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a.right = merge(a.right, b)
		return a
	default:
		b.left = merge(a, b.left)
		return b
	}
}

// insert adds key, which must not be present.
func (t *treap) insert(key string) {
	l, r := split(t.root, key)
	t.root = merge(merge(l, &tnode{key: key, prio: t.next()}), r)
}

// remove deletes key if present.
func (t *treap) remove(key string) {
	l, r := split(t.root, key)
	_, r = split(r, key+"\x00")
	t.root = merge(l, r)
}

// ascendFrom calls f for each key starting with prefix and not before
// from, in order, until f returns false.
func (t *treap) ascendFrom(prefix, from string, f func(string) bool) {
	ascend(t.root, prefix, max(from, prefix), f)
}

func ascend(n *tnode, prefix, from string, f func(string) bool) bool {
	for n != nil {
		if n.key < from {
			// Everything on the left is smaller still.
			n = n.right
			continue
		}
		if !ascend(n.left, prefix, from, f) {
			return false
		}
		if !strings.HasPrefix(n.key, prefix) {
			return false // n.key > every key with the prefix
		}
		if !f(n.key) {
			return false
		}
		n = n.right
	}
	return true
}
