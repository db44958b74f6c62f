package stateful

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/vigilsec/vigil/internal/rules"
)

// snapshotVersion is the format of a saved Table.
const snapshotVersion = 1

type snapshot struct {
	Version int             `json:"version"`
	Pos     json.RawMessage `json:"pos"` // the caller's position, opaque here
	Rules   []snapRule      `json:"rules"`
}

type snapRule struct {
	Signature string           `json:"signature"`
	Kind      rules.StateKind  `json:"kind"`
	Count     int              `json:"count,omitempty"`
	Window    int64            `json:"window,omitempty"`
	Learning  int64            `json:"learning,omitempty"`
	Newest    int64            `json:"newest"`
	Learn     map[string]int64 `json:"learn,omitempty"`
	Keys      []snapKey        `json:"keys"` // least recently updated first
}

type snapKey struct {
	Key    string           `json:"k"`
	Newest int64            `json:"n"`
	Times  []int64          `json:"t,omitempty"`
	Values map[string]int64 `json:"v,omitempty"`
	Mark   int64            `json:"m,omitempty"`
}

// Dirty reports whether the table changed since it was last saved or
// loaded.
func (t *Table) Dirty() bool { return t.dirty }

// Save writes the table to path (through a synced temporary file and a
// rename, so a crash leaves the old file or the new one) with pos, the
// caller's position the state corresponds to, as JSON.
func (t *Table) Save(path string, pos any) error {
	p, err := json.Marshal(pos)
	if err != nil {
		return err
	}
	s := snapshot{Version: snapshotVersion, Pos: p}
	for _, r := range t.rules {
		sr := snapRule{Signature: r.sig, Kind: r.kind, Count: r.count, Window: r.window, Learning: r.learning,
			Newest: r.newest, Learn: r.learn, Keys: make([]snapKey, 0, len(r.keys))}
		for e := r.lru.prev; e != &r.lru; e = e.prev {
			sr.Keys = append(sr.Keys, snapKey{Key: e.key, Newest: e.newest, Times: e.times, Values: e.values, Mark: e.mark})
		}
		s.Rules = append(s.Rules, sr)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	err = json.NewEncoder(w).Encode(&s)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("save stateful rules' state: %w", err)
	}
	t.dirty = false
	return nil
}

// Load reads a table saved by Save and stores its position into pos. It
// returns os.ErrNotExist (wrapped) when there is no file. Keys past the
// limits are evicted (oldest first) as they are loaded.
func Load(path string, lim Limits, pos any) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var s snapshot
	if err := json.NewDecoder(bufio.NewReaderSize(f, 1<<16)).Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("%s: version %d, expected %d", path, s.Version, snapshotVersion)
	}
	if err := json.Unmarshal(s.Pos, pos); err != nil {
		return nil, fmt.Errorf("%s: position: %w", path, err)
	}
	t := New(lim)
	for _, sr := range s.Rules {
		if sr.Kind < rules.Threshold || sr.Kind > rules.FirstSeen {
			return nil, fmt.Errorf("%s: rule state of unknown kind %d", path, sr.Kind)
		}
		r := &ruleState{sig: sr.Signature, kind: sr.Kind, count: sr.Count, window: sr.Window, learning: sr.Learning,
			newest: sr.Newest, learn: sr.Learn, keys: map[string]*entry{}}
		r.lru.next, r.lru.prev = &r.lru, &r.lru
		if r.kind == rules.FirstSeen && r.learn == nil {
			r.learn = map[string]int64{}
		}
		t.rules[sr.Signature] = r
		t.specs = append(t.specs, r) // for evictions while loading; sync replaces it
		for _, k := range sr.Keys {
			e := t.get(r, k.Key, true)
			e.newest, e.times, e.values, e.mark = k.Newest, k.Times, k.Values, k.Mark
		}
	}
	t.specs = t.specs[:0]
	t.evictions.Store(0)
	t.nkeys.Store(int64(t.keys))
	return t, nil
}

// IsNotExist reports whether err from Load means there was no saved state.
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
