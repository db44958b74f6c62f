package corpus

import (
	"io"
	"testing"
)

func BenchmarkNext(b *testing.B) {
	g := New(Options{Seed: 1})
	buf := make([]byte, 0, 64<<10)
	// Warm up, and measure the mean event size for SetBytes.
	const warm = 20000
	total := 0
	for range warm {
		buf = g.Next(buf[:0])
		total += len(buf)
	}
	b.SetBytes(int64(total / warm))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		buf = g.Next(buf[:0])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWrite200k writes the 200,000 events the bench subcommand replays.
func BenchmarkWrite200k(b *testing.B) {
	const events = 200000
	b.ReportAllocs()
	var bytes int64
	for b.Loop() {
		n, err := Write(io.Discard, Options{Seed: 1, Events: events})
		if err != nil {
			b.Fatal(err)
		}
		bytes = n
	}
	b.SetBytes(bytes)
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
