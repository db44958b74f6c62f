package enrich

import (
	"hash/maphash"
	"net/netip"
	"sync/atomic"

	"github.com/vigilsec/vigil/internal/audit"
)

// The caches are direct-mapped: a key hashes to one slot, and a new entry
// replaces whatever the slot held. That bounds their memory without any
// bookkeeping, takes no lock (the evaluator's workers read them at once)
// and makes a hit cost one hash, one atomic load and one comparison. The
// addresses a cluster's requests come from are few (nodes, controllers,
// a handful of users), so a few thousand slots hold them all.
const cacheSlots = 4096 // a power of two

// maxCachedSourceIPs bounds the sourceIPs values that are cached: a longer
// one is a forged header chain, not worth a slot's memory.
const maxCachedSourceIPs = 1024

// newDBState returns a generation without databases and with empty caches.
func newDBState() *dbState {
	d := &dbState{}
	d.addrs.seed = maphash.MakeSeed()
	d.sources.seed = maphash.MakeSeed()
	return d
}

// addrCache remembers the Location of addresses.
type addrCache struct {
	seed  maphash.Seed
	slots [cacheSlots]atomic.Pointer[addrEntry]
}

type addrEntry struct {
	addr netip.Addr // normalised (see norm)
	loc  Location
}

func (c *addrCache) slot(a netip.Addr) *atomic.Pointer[addrEntry] {
	b := a.As16()
	return &c.slots[maphash.Bytes(c.seed, b[:])&(cacheSlots-1)]
}

// get returns the cached Location of a, or nil.
func (c *addrCache) get(a netip.Addr) *Location {
	if e := c.slot(a).Load(); e != nil && e.addr == a {
		return &e.loc
	}
	return nil
}

func (c *addrCache) put(a netip.Addr, l *Location) {
	c.slot(a).Store(&addrEntry{addr: a, loc: *l})
}

// sourceCache remembers the Source of raw sourceIPs values.
type sourceCache struct {
	seed  maphash.Seed
	slots [cacheSlots]atomic.Pointer[sourceEntry]
}

type sourceEntry struct {
	key string        // the raw JSON value
	src *audit.Source // nil: nothing known
}

func (c *sourceCache) slot(raw []byte) *atomic.Pointer[sourceEntry] {
	return &c.slots[maphash.Bytes(c.seed, raw)&(cacheSlots-1)]
}

// get returns the cached Source of raw and whether there was one.
func (c *sourceCache) get(raw []byte) (*audit.Source, bool) {
	if e := c.slot(raw).Load(); e != nil && e.key == string(raw) {
		return e.src, true
	}
	return nil, false
}

func (c *sourceCache) put(raw []byte, s *audit.Source) {
	if len(raw) > maxCachedSourceIPs {
		return
	}
	c.slot(raw).Store(&sourceEntry{key: string(raw), src: s})
}
