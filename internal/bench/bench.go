// Package bench measures replay throughput: events per second, allocations
// per event and peak memory, on a deterministic synthetic corpus or a given
// file. 'vigil bench' and the Go benchmarks run this same code.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/corpus"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/replay"
)

// Options configure a measurement.
type Options struct {
	Program    *engine.Program
	Corpus     string        // JSON-lines file to replay; "" generates one
	Events     int           // events to generate when Corpus is ""
	Seed       int64         // corpus seed
	Workers    int           // replay workers
	Format     replay.Format // alert format (alerts are formatted, then discarded)
	Limits     audit.Limits  // event limits
	TempDir    string        // where a generated corpus goes; "" = os.TempDir()
	CPUProfile string        // if set, write a CPU profile of the replay there
}

// Result is one measurement.
type Result struct {
	Events  int64         // events evaluated
	Alerts  int64         // alerts raised
	Bytes   int64         // input bytes
	Elapsed time.Duration // replay wall time (excludes corpus generation)
	Mallocs uint64        // heap allocations during the replay
	PeakRSS int64         // peak resident set size of the process, bytes (0 if unknown)
	Workers int           // workers used
	Skipped int64         // items skipped by the decoder
	CPU     time.Duration // user+system CPU time of the process during the replay
}

// EventsPerCPUSec returns events per second of CPU time: the throughput one
// core would give, and a steadier figure than wall time on a busy machine.
func (r Result) EventsPerCPUSec() float64 { return float64(r.Events) / r.CPU.Seconds() }

// EventsPerSec returns the throughput.
func (r Result) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// AllocsPerEvent returns heap allocations per event, alerts included.
func (r Result) AllocsPerEvent() float64 { return float64(r.Mallocs) / float64(r.Events) }

// String formats the result for people.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "events:         %d (%d alerts, %d skipped)\n", r.Events, r.Alerts, r.Skipped)
	fmt.Fprintf(&b, "input:          %.1f MB, %.0f bytes/event\n", float64(r.Bytes)/1e6, float64(r.Bytes)/float64(max(r.Events, 1)))
	fmt.Fprintf(&b, "workers:        %d (GOMAXPROCS %d)\n", r.Workers, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "elapsed:        %s\n", r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "events/s:       %.0f (wall clock)\n", r.EventsPerSec())
	if r.CPU > 0 {
		fmt.Fprintf(&b, "cpu time:       %s (%.0f events per CPU-second)\n", r.CPU.Round(time.Millisecond), r.EventsPerCPUSec())
	}
	fmt.Fprintf(&b, "MB/s:           %.1f\n", float64(r.Bytes)/1e6/r.Elapsed.Seconds())
	fmt.Fprintf(&b, "allocs/event:   %.3f (alerts included)\n", r.AllocsPerEvent())
	if r.PeakRSS > 0 {
		fmt.Fprintf(&b, "peak RSS:       %.1f MB\n", float64(r.PeakRSS)/1e6)
	}
	return b.String()
}

// Generate writes a corpus of n events to a new file in dir and returns its
// path.
func Generate(dir string, n int, seed int64) (string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "vigil-corpus-*.jsonl")
	if err != nil {
		return "", fmt.Errorf("create corpus file: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := corpus.Write(bw, corpus.Options{Seed: seed, Events: n}); err != nil {
		f.Close()
		return "", fmt.Errorf("write corpus: %w", err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return "", fmt.Errorf("write corpus: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write corpus: %w", err)
	}
	return filepath.Clean(f.Name()), nil
}

// Run replays the corpus once and measures it.
func Run(ctx context.Context, opt Options) (Result, error) {
	path := opt.Corpus
	if path == "" {
		p, err := Generate(opt.TempDir, opt.Events, opt.Seed)
		if err != nil {
			return Result{}, err
		}
		defer os.Remove(p)
		path = p
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	// Warm the page cache so that the measurement is of Vigil, not the disk.
	if f, err := os.Open(path); err == nil {
		io.Copy(io.Discard, f)
		f.Close()
	}
	if opt.CPUProfile != "" {
		f, err := os.Create(opt.CPUProfile)
		if err != nil {
			return Result{}, fmt.Errorf("create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return Result{}, fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	start := time.Now()
	sum, err := replay.Run(ctx, []string{path}, replay.Options{
		Program: opt.Program, Format: opt.Format, Workers: opt.Workers, Limits: opt.Limits,
		Location: time.UTC, Out: io.Discard,
	})
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&after)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Events: sum.Events, Alerts: sum.Alerts, Bytes: sum.Bytes, Elapsed: elapsed,
		Mallocs: after.Mallocs - before.Mallocs, PeakRSS: peakRSS(), Workers: opt.Workers,
		Skipped: sum.SkippedTotal(), CPU: cpu,
	}, nil
}

// peakRSS reads VmHWM from /proc/self/status (Linux); 0 elsewhere.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// cpuTime returns the process's user+system CPU time (0 where unsupported).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
