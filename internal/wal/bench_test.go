package wal

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// benchPayload is the size of one audit webhook batch: ~400 events.
const benchPayload = 700 << 10

// latencies collects Append latencies from many goroutines.
type latencies struct {
	mu  sync.Mutex      // guards all
	all []time.Duration // every latency recorded
}

// add records the latencies of one goroutine.
func (ls *latencies) add(d []time.Duration) {
	ls.mu.Lock()
	ls.all = append(ls.all, d...)
	ls.mu.Unlock()
}

// report adds the p50 and p99 latency and the syncs per Append to b.
func (ls *latencies) report(b *testing.B, l *Log) {
	if len(ls.all) == 0 {
		return
	}
	slices.Sort(ls.all)
	q := func(f float64) float64 {
		return float64(ls.all[int(f*float64(len(ls.all)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	st := l.Stats()
	b.ReportMetric(float64(st.Syncs)/float64(st.Appends), "syncs/append")
}

func BenchmarkAppend(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		name := "fsync"
		if noSync {
			name = "nosync"
		}
		b.Run(name+"/single", func(b *testing.B) {
			l := openLog(b, Options{Dir: b.TempDir(), NoSync: noSync})
			p := payload(1, benchPayload)
			var ls latencies
			lat := make([]time.Duration, 0, 1024)
			b.ReportAllocs()
			b.SetBytes(benchPayload)
			for b.Loop() {
				start := time.Now()
				first, _, err := l.Append(b.Context(), p)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Release(first); err != nil {
					b.Fatal(err)
				}
			}
			ls.add(lat)
			ls.report(b, l)
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			l := openLog(b, Options{Dir: b.TempDir(), NoSync: noSync})
			var ls latencies
			b.ReportAllocs()
			b.SetBytes(benchPayload)
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				p := payload(2, benchPayload)
				lat := make([]time.Duration, 0, 1024)
				for pb.Next() {
					start := time.Now()
					first, _, err := l.Append(b.Context(), p)
					lat = append(lat, time.Since(start))
					if err != nil {
						b.Error(err)
						return
					}
					if err := l.Release(first); err != nil {
						b.Error(err)
						return
					}
				}
				ls.add(lat)
			})
			ls.report(b, l)
		})
	}
}

// BenchmarkRead measures a Reader over a log of 700 KB records.
func BenchmarkRead(b *testing.B) {
	l := openLog(b, Options{Dir: b.TempDir(), NoSync: true})
	p := payload(3, benchPayload)
	const n = 64
	for range n {
		if _, _, err := l.Append(b.Context(), p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(benchPayload)
	r := l.NewReader(Pos{})
	i := 0
	for b.Loop() {
		if i == n {
			r.Close()
			r, i = l.NewReader(Pos{}), 0
		}
		if _, err := r.Next(b.Context()); err != nil {
			b.Fatal(err)
		}
		i++
	}
	r.Close()
}

// BenchmarkAppendTarget appends at the server's target load: 250 batches
// of 700 KB per second (about 100,000 events/s) from 8 concurrent
// handlers, and reports the latency an HTTP handler would see.
func BenchmarkAppendTarget(b *testing.B) {
	const rate, handlers = 250, 8
	l := openLog(b, Options{Dir: b.TempDir()})
	p := payload(4, benchPayload)
	var ls latencies
	work := make(chan struct{})
	var wg sync.WaitGroup
	for range handlers {
		wg.Go(func() {
			var lat []time.Duration
			for range work {
				start := time.Now()
				first, _, err := l.Append(b.Context(), p)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Error(err)
					continue
				}
				if err := l.Release(first); err != nil {
					b.Error(err)
				}
			}
			ls.add(lat)
		})
	}
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	b.ReportAllocs()
	b.SetBytes(benchPayload)
	for b.Loop() {
		<-tick.C
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	ls.report(b, l)
}
