package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/metrics"
	"github.com/vigilsec/vigil/internal/output"
	"github.com/vigilsec/vigil/internal/wal"
)

// Delivery sends alerts raised outside the server (vigil replay) through
// the configured outputs, with the same wrapper: a journal in a private
// directory, one cursor per output, retries, filters, throttling.
type Delivery struct {
	dir     string
	journal *wal.Log
	disp    *output.Dispatcher
	cancel  context.CancelFunc
	done    chan struct{}
	pending *journal.Record
	seq     int
	log     *slog.Logger
	ctx     context.Context
}

// NewDelivery starts the outputs of cfg. The journal lives in a new
// directory under cfg.DataDir, removed by Close.
//
// ctx bounds waiting for room in the journal while outputs are behind:
// once it is done, Add and Close give up and report it.
func NewDelivery(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) (*Delivery, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.DataDir, "replay-")
	if err != nil {
		return nil, err
	}
	d := &Delivery{dir: dir, log: log, pending: &journal.Record{}, ctx: ctx}
	d.journal, err = wal.Open(wal.Options{Dir: filepath.Join(dir, "alerts"), SegmentSize: journalSegment, MaxBytes: journalMaxBytes, NoSync: true})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	host := cfg.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	outs, err := BuildOutputs(cfg, log, host, stdout)
	if err == nil {
		d.disp, err = output.New(output.Options{Journal: d.journal, JournalSeg: journalSegment, Dir: filepath.Join(dir, "outputs"),
			Outputs: outs, Logger: log, Metrics: metrics.New("replay")})
	}
	if err != nil {
		d.journal.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go func() { defer close(d.done); d.disp.Run(runCtx) }()
	return d, nil
}

// Add queues an alert; alerts are journalled 100 at a time.
func (d *Delivery) Add(a *alert.Alert) error {
	d.pending.Alerts = append(d.pending.Alerts, journal.Alert{ID: fmt.Sprintf("replay-%d", d.seq), Alert: *a, Capture: "replay",
		Received: time.Now().UTC()})
	d.seq++
	if len(d.pending.Alerts) >= 100 {
		return d.flush()
	}
	return nil
}

func (d *Delivery) flush() error {
	if len(d.pending.Alerts) == 0 {
		return nil
	}
	data, err := journal.Marshal(d.pending)
	if err != nil {
		return err
	}
	n := len(d.pending.Alerts)
	d.pending = &journal.Record{}
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		_, _, err = d.journal.Append(context.Background(), data)
		if !errors.Is(err, wal.ErrFull) {
			return err
		}
		select { // the outputs are behind: let them catch up
		case <-d.ctx.Done():
			return fmt.Errorf("%d alerts not queued: the outputs are too far behind: %w", n, d.ctx.Err())
		case <-time.After(wait):
		}
	}
}

// Close delivers what is queued, waiting at most until ctx is done, and
// removes the journal. Alerts not delivered by then are reported.
func (d *Delivery) Close(ctx context.Context) error {
	errs := []error{d.flush()}
	errs = append(errs, d.disp.Drain(ctx))
	d.cancel()
	<-d.done
	errs = append(errs, d.disp.Close(), d.journal.Close(), os.RemoveAll(d.dir))
	return errors.Join(errs...)
}
