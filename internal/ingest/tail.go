package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/batch"
	"github.com/vigilsec/vigil/internal/redact"
	"github.com/vigilsec/vigil/internal/tail"
)

// TailPublisher returns the publisher for a followed audit log: each chunk
// of whole lines becomes one record of the event log, stamped with the
// configured cluster. A bad line is counted and skipped. An error (the log
// is full or failing) makes the tailer retry the same chunk later, so the
// file position only moves past what is durable.
func (s *Server) TailPublisher(cluster string) tail.Publisher {
	var enc batch.Encoder
	var ev audit.Event
	return func(ctx context.Context, b tail.Batch) error {
		now := s.o.Now()
		enc.Reset(batch.Header{Capture: batch.Tail, Received: now.UnixNano(), Cluster: cluster})
		d := audit.NewBytesDecoder(b.Data, audit.Options{Name: b.File, Limits: s.o.Limits, BaseOffset: b.Offset})
		skipped := 0
		m := s.o.Metrics
		for {
			err := d.Next(&ev)
			if err == io.EOF {
				break
			}
			var de *audit.Error
			if errors.As(err, &de) {
				skipped++
				if m != nil {
					m.TailSkipped.WithLabelValues(b.File, string(de.Reason)).Inc()
				}
				if skipped <= 10 {
					s.o.Logger.Warn("skipped line of audit log", "cluster", cluster, "err", describeTail(de))
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("decode %s: %w", b.File, err)
			}
			raw := ev.Raw
			if !s.o.DisableRedact {
				raw, _ = redact.Event(raw)
			}
			enc.Add(raw)
		}
		if m != nil {
			m.TailLines.WithLabelValues(b.File).Add(float64(len(b.Data)))
			m.EventsReceived.WithLabelValues(cluster, "tail").Add(float64(enc.Count() + skipped))
			if skipped > 0 {
				m.EventsRejected.WithLabelValues(cluster, "tail", "bad_line").Add(float64(skipped))
			}
		}
		if enc.Count() == 0 {
			return nil
		}
		if _, _, err := s.o.Log.Append(ctx, enc.Bytes()); err != nil {
			if m != nil {
				m.Unavailable.WithLabelValues("tail", appendReason(err)).Inc()
			}
			return fmt.Errorf("append %s at byte %d to the event log: %w", b.File, b.Offset, err)
		}
		if m != nil {
			m.EventsAccepted.WithLabelValues(cluster, "tail").Add(float64(enc.Count()))
			m.Seen(cluster, now)
		}
		return nil
	}
}

func describeTail(e *audit.Error) string {
	return fmt.Sprintf("%s:%d (byte %d): %s: %v", e.Input, e.Line, e.Offset, e.Reason, e.Err)
}
