package tail

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkFollow measures the throughput of following a growing file: each
// iteration appends 8 MiB of 1 KiB lines (audit-event sized) in 64 KiB
// writes and waits until the tailer has published all of it. "persist"
// writes the state file (with its fsyncs) after every batch, as serve does.
func BenchmarkFollow(b *testing.B) {
	line := append(bytes.Repeat([]byte("x"), 1023), '\n')
	block := bytes.Repeat(line, 8<<10)
	for _, persist := range []bool{false, true} {
		b.Run(fmt.Sprintf("persist=%v", persist), func(b *testing.B) {
			dir := b.TempDir()
			o := Options{Path: filepath.Join(dir, "audit.log"), Poll: DefaultPoll / 250}
			if persist {
				o.StateFile = filepath.Join(dir, "audit.pos")
			}
			f, err := os.Create(o.Path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			tl, err := New(o)
			if err != nil {
				b.Fatal(err)
			}
			var published atomic.Int64
			progress := make(chan struct{}, 1)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				err := tl.Run(ctx, func(_ context.Context, bt Batch) error {
					published.Add(int64(len(bt.Data)))
					select {
					case progress <- struct{}{}:
					default:
					}
					return nil
				})
				if err != nil {
					b.Error(err)
				}
			})
			defer func() { cancel(); wg.Wait() }()

			b.SetBytes(int64(len(block)))
			b.ReportAllocs()
			var target int64
			for b.Loop() {
				for w := block; len(w) > 0; w = w[min(len(w), 64<<10):] {
					if _, err := f.Write(w[:min(len(w), 64<<10)]); err != nil {
						b.Fatal(err)
					}
				}
				target += int64(len(block))
				for published.Load() < target {
					<-progress
				}
			}
			b.ReportMetric(float64(tl.Stats().Lines)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
