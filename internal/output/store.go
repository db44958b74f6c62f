package output

import (
	"context"
	"fmt"

	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/store"
)

// Store is the sink that keeps alerts in Vigil's own store. It goes
// through the same wrapper as any output, so the store being slow or down
// never blocks evaluation, and its at-least-once delivery becomes exactly
// once because Add is idempotent by alert ID.
type Store struct{ s store.Store }

// NewStore returns a sink writing to s. Closing the sink does not close s.
func NewStore(s store.Store) *Store { return &Store{s: s} }

// Send implements Sink.
func (s *Store) Send(ctx context.Context, alerts []*journal.Alert) error {
	batch := make([]journal.Alert, len(alerts))
	for i, a := range alerts {
		batch[i] = *a
	}
	if err := s.s.Add(ctx, batch); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Close implements Sink.
func (s *Store) Close() error { return nil }
