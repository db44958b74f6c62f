package pipeline

import (
	"hash/maphash"
)

// dedup remembers the auditID+stage of recently evaluated events, so that
// an event the API server sends again (it resends a whole batch when it
// got no answer) is evaluated once. It holds at most max keys and forgets
// keys older than window (by receive time); memory is about 40 bytes per
// key.
type dedup struct {
	seed   maphash.Seed
	max    int
	window int64 // nanoseconds
	keys   map[uint64]struct{}
	ring   []entry // insertion order; ring[head] is the oldest
	head   int
	n      int
}

type entry struct {
	key uint64
	t   int64
}

func newDedup(max int, window int64) *dedup {
	d := &dedup{seed: maphash.MakeSeed(), max: max, window: window}
	if max > 0 {
		d.keys = make(map[uint64]struct{}, min(max, 1<<16))
	}
	return d
}

// key hashes an event's auditID and stage (their raw JSON values).
func (d *dedup) key(auditID, stage []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(d.seed)
	h.Write(auditID)
	h.WriteByte(0)
	h.Write(stage)
	return h.Sum64()
}

// seen reports whether k was recorded, and records it if not. t is the
// event's receive time.
func (d *dedup) seen(k uint64, t int64) bool {
	if d.max <= 0 {
		return false
	}
	if _, ok := d.keys[k]; ok {
		return true
	}
	d.expire(t)
	if d.n == d.max {
		d.evict()
	}
	if d.n == len(d.ring) {
		d.grow()
	}
	d.ring[(d.head+d.n)%len(d.ring)] = entry{k, t}
	d.n++
	d.keys[k] = struct{}{}
	return false
}

func (d *dedup) expire(now int64) {
	for d.n > 0 && now-d.ring[d.head].t > d.window {
		d.evict()
	}
}

func (d *dedup) evict() {
	delete(d.keys, d.ring[d.head].key)
	d.head = (d.head + 1) % len(d.ring)
	d.n--
}

func (d *dedup) grow() {
	size := min(max(2*len(d.ring), 1024), d.max)
	r := make([]entry, size)
	for i := 0; i < d.n; i++ {
		r[i] = d.ring[(d.head+i)%len(d.ring)]
	}
	d.ring, d.head = r, 0
}

func (d *dedup) len() int { return d.n }
