package wal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// openLog opens a Log and closes it when the test ends.
func openLog(t testing.TB, o Options) *Log {
	t.Helper()
	l, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// payload returns a record of size bytes (at least 8) that starts with i.
func payload(i uint64, size int) []byte {
	b := make([]byte, max(size, 8))
	binary.LittleEndian.PutUint64(b, i)
	for j := 8; j < len(b); j++ {
		b[j] = byte(i) + byte(j)
	}
	return b
}

// appended is a record as Append reported it.
type appended struct {
	data  []byte
	first *Pos // the batch's first Pos, for the first record of a batch
	end   *Pos // the batch's end Pos, for the last record of a batch
}

// appendAll appends sizes as records, batch records per Append.
func appendAll(t testing.TB, l *Log, sizes []int, batch int, base uint64) []appended {
	t.Helper()
	var out []appended
	for i := 0; i < len(sizes); i += batch {
		var ps [][]byte
		for j := i; j < min(i+batch, len(sizes)); j++ {
			ps = append(ps, payload(base+uint64(j), sizes[j]))
		}
		first, end, err := l.Append(t.Context(), ps...)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		for _, p := range ps {
			out = append(out, appended{data: p})
		}
		out[len(out)-len(ps)].first = &first
		out[len(out)-1].end = &end
	}
	return out
}

// readAll reads every durable record from from to the end of the log. It
// calls Next with a cancelled context, which returns the context's error
// only when Next would block, so it stops exactly at the durable end.
func readAll(t testing.TB, l *Log, from Pos) []Record {
	t.Helper()
	r := l.NewReader(from)
	defer r.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out []Record
	for {
		rec, err := r.Next(ctx)
		if errors.Is(err, context.Canceled) {
			return out
		}
		if err != nil {
			t.Fatalf("Next at %v: %v", r.Pos(), err)
		}
		rec.Data = bytes.Clone(rec.Data)
		out = append(out, rec)
	}
}

// checkRecords compares what was read with what was appended: the data,
// and the positions Append reported.
func checkRecords(t testing.TB, got []Record, want []appended) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Data, want[i].data) {
			t.Fatalf("record %d at %v: data differs (len %d, want %d)", i, got[i].Pos, len(got[i].Data), len(want[i].data))
		}
		if f := want[i].first; f != nil && got[i].Pos != *f {
			t.Fatalf("record %d: Pos = %v, Append said %v", i, got[i].Pos, *f)
		}
		if e := want[i].end; e != nil && got[i].Next != *e {
			t.Fatalf("record %d: Next = %v, Append said %v", i, got[i].Next, *e)
		}
	}
}

// sizesOf returns n record sizes cycling through the given ones.
func sizesOf(n int, cycle ...int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = cycle[i%len(cycle)]
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		segSize int64
		sizes   []int
		batch   int
	}{
		{"one record", 1 << 20, []int{100}, 1},
		{"empty payloads", 1 << 20, sizesOf(5, 0), 1},
		{"many small records one segment", 1 << 20, sizesOf(500, 10, 200, 3000), 1},
		{"rolls every record", 16, sizesOf(20, 100), 1},
		{"several rolls", 4096, sizesOf(200, 100, 1000, 3000), 1},
		{"batches across rolls", 4096, sizesOf(200, 100, 1000, 3000), 7},
		{"large records", 256 << 10, sizesOf(10, 700<<10, 1), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Dir: dir, SegmentSize: tc.segSize, MaxBytes: 1 << 30}
			l := openLog(t, o)
			want := appendAll(t, l, tc.sizes, tc.batch, 0)
			got := readAll(t, l, Pos{})
			checkRecords(t, got, want)

			// Every record's position, passed back, starts a reader there.
			for _, i := range []int{0, len(got) / 2, len(got) - 1} {
				if rest := readAll(t, l, got[i].Pos); len(rest) != len(got)-i || !bytes.Equal(rest[0].Data, got[i].Data) {
					t.Fatalf("reader from %v read %d records, want %d", got[i].Pos, len(rest), len(got)-i)
				}
			}
			st := l.Stats()
			if st.Records != uint64(len(tc.sizes)) {
				t.Errorf("Stats.Records = %d, want %d", st.Records, len(tc.sizes))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			// Reopen: the same records at the same positions.
			l2 := openLog(t, o)
			again := readAll(t, l2, Pos{})
			if len(again) != len(got) {
				t.Fatalf("after reopen read %d records, want %d", len(again), len(got))
			}
			for i := range got {
				if again[i].Pos != got[i].Pos || again[i].Next != got[i].Next || !bytes.Equal(again[i].Data, got[i].Data) {
					t.Fatalf("after reopen record %d = %v..%v, want %v..%v", i, again[i].Pos, again[i].Next, got[i].Pos, got[i].Next)
				}
			}
			st2 := l2.Stats()
			if st2.End != st.End || st2.Bytes != st.Bytes || st2.Segments != st.Segments || st2.TornBytes != 0 {
				t.Errorf("after reopen Stats = %+v, want End %v Bytes %d Segments %d", st2, st.End, st.Bytes, st.Segments)
			}
			// Appends continue where the log ended.
			more := appendAll(t, l2, []int{10, 20}, 1, 1000)
			all := readAll(t, l2, Pos{})
			checkRecords(t, all[len(got):], more)
		})
	}
}

func TestSegmentFiles(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, SegmentSize: 100, MaxBytes: 1 << 20})
	appendAll(t, l, sizesOf(3, 100), 1, 0)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"00000000000000000001.wal", "00000000000000000002.wal", "00000000000000000003.wal"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("files = %v, want %v", names, want)
	}
	if st := l.Stats(); st.Segments != 3 || st.Bytes != 3*108 || st.End != (Pos{Seg: 3, Off: 108}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestReaderSeesLaterAppends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := openLog(t, Options{Dir: t.TempDir(), SegmentSize: 64, MaxBytes: 1 << 20})
		r := l.NewReader(Pos{})
		defer r.Close()
		got := make(chan Record)
		go func() {
			for {
				rec, err := r.Next(t.Context())
				if err != nil {
					close(got)
					return
				}
				rec.Data = bytes.Clone(rec.Data)
				got <- rec
			}
		}()
		synctest.Wait() // the reader is blocked in Next
		select {
		case rec := <-got:
			t.Fatalf("Next returned %v before any Append", rec.Pos)
		default:
		}
		for i := range uint64(5) {
			first, _, err := l.Append(t.Context(), payload(i, 60))
			if err != nil {
				t.Fatal(err)
			}
			rec := <-got
			if rec.Pos != first || binary.LittleEndian.Uint64(rec.Data) != i {
				t.Fatalf("Next = %v %x, want %v record %d", rec.Pos, rec.Data[:8], first, i)
			}
		}
		l.Close()
		if _, ok := <-got; ok {
			t.Fatal("reader returned a record after Close")
		}
	})
}

func TestNextContext(t *testing.T) {
	tests := []struct {
		name string
		stop func(cancel context.CancelFunc)
		want error
	}{
		{"cancel while blocked", func(cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"deadline while blocked", func(context.CancelFunc) {}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := openLog(t, Options{Dir: t.TempDir()})
				ctx, cancel := context.WithTimeout(t.Context(), 1e9)
				defer cancel()
				r := l.NewReader(Pos{})
				errc := make(chan error)
				go func() {
					_, err := r.Next(ctx)
					errc <- err
				}()
				synctest.Wait()
				tc.stop(cancel)
				if err := <-errc; !errors.Is(err, tc.want) {
					t.Errorf("Next = %v, want %v", err, tc.want)
				}
			})
		})
	}
}

func TestAppendContextDone(t *testing.T) {
	l := openLog(t, Options{Dir: t.TempDir()})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := l.Append(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append = %v, want context.Canceled", err)
	}
	if st := l.Stats(); st.Bytes != 0 || st.Records != 0 {
		t.Errorf("Append with a done context wrote: %+v", st)
	}
}

func TestAppendTooLarge(t *testing.T) {
	l := openLog(t, Options{Dir: t.TempDir(), MaxRecord: 10})
	_, _, err := l.Append(t.Context(), []byte("ok"), make([]byte, 11))
	if !errors.Is(err, ErrTooLarge) || err.Error() != "append 11-byte record (limit 10): wal: record too large" {
		t.Fatalf("Append = %v, want ErrTooLarge", err)
	}
	if st := l.Stats(); st.Bytes != 0 {
		t.Errorf("a rejected batch wrote %d bytes", st.Bytes)
	}
	if _, _, err := l.Append(t.Context(), make([]byte, 10)); err != nil {
		t.Fatalf("Append at the limit: %v", err)
	}
}

func TestOpenOptionErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no dir", Options{}, "open wal: no directory"},
		{"negative", Options{Dir: dir, SegmentSize: -1}, "open wal: negative size option"},
		{"segment too big", Options{Dir: dir, SegmentSize: 600, MaxBytes: 1000}, "open wal: segment size 600 exceeds half of max bytes 1000"},
		{"record too big", Options{Dir: dir, MaxRecord: 1 << 32}, "open wal: max record 4294967296 exceeds the 4 GiB format limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.o)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Open = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestFullAndRelease(t *testing.T) {
	dir := t.TempDir()
	// Records of 100 bytes take 108; a segment holds two before rolling.
	l := openLog(t, Options{Dir: dir, SegmentSize: 200, MaxBytes: 1000})
	var ends []Pos
	for i := range uint64(9) {
		_, end, err := l.Append(t.Context(), payload(i, 100))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		ends = append(ends, end)
	}
	before := l.Stats()
	if before.Bytes != 9*108 || before.Segments != 5 {
		t.Fatalf("Stats = %+v, want 972 bytes in 5 segments", before)
	}
	if _, _, err := l.Append(t.Context(), payload(9, 100)); !errors.Is(err, ErrFull) {
		t.Fatalf("Append past MaxBytes = %v, want ErrFull", err)
	}
	if st := l.Stats(); st != before {
		t.Fatalf("a full Append changed Stats: %+v, was %+v", st, before)
	}

	// Release up to the middle of segment 2: only segment 1 goes.
	if err := l.Release(ends[2]); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Segments != 4 || st.First != (Pos{Seg: 2}) || st.Bytes != 7*108 {
		t.Fatalf("after Release(%v) Stats = %+v", ends[2], st)
	}
	if _, err := os.Stat(filepath.Join(dir, segName(1))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("segment 1 still on disk: %v", err)
	}
	if _, _, err := l.Append(t.Context(), payload(9, 100)); err != nil {
		t.Fatalf("Append after Release: %v", err)
	}
	// A reader from the zero Pos starts at the first retained record.
	if recs := readAll(t, l, Pos{}); len(recs) != 8 || binary.LittleEndian.Uint64(recs[0].Data) != 2 {
		t.Fatalf("read %d records from the zero Pos, first %x", len(recs), recs[0].Data[:8])
	}

	// Releasing everything keeps the current segment.
	end := l.Stats().End
	if err := l.Release(end); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Segments != 1 || st.First != (Pos{Seg: end.Seg}) {
		t.Fatalf("after releasing everything Stats = %+v, want only segment %d", st, end.Seg)
	}
	if _, err := os.Stat(filepath.Join(dir, segName(end.Seg))); err != nil {
		t.Errorf("current segment deleted: %v", err)
	}
	if err := l.Release(Pos{Seg: 1 << 60}); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Segments != 1 {
		t.Fatalf("Release past the end deleted the current segment: %+v", st)
	}
}

func TestFullCurrentSegmentReleased(t *testing.T) {
	// One record fills half the log; the current segment is all that
	// remains, so only rolling on the full path can make room.
	l := openLog(t, Options{Dir: t.TempDir(), SegmentSize: 500, MaxBytes: 1000})
	if _, _, err := l.Append(t.Context(), make([]byte, 450), make([]byte, 450)); err != nil {
		t.Fatal(err)
	}
	_, end, err := l.Append(t.Context(), make([]byte, 100))
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append = %v, %v, want ErrFull", end, err)
	}
	if err := l.Release(l.Stats().End); err != nil {
		t.Fatal(err)
	}
	first, _, err := l.Append(t.Context(), make([]byte, 100))
	if err != nil {
		t.Fatalf("Append after releasing the current segment: %v", err)
	}
	if st := l.Stats(); st.Segments != 1 || st.Bytes != 108 || first != (Pos{Seg: 2}) {
		t.Errorf("Stats = %+v, first = %v", st, first)
	}
}

func TestGroupCommit(t *testing.T) {
	const writers, perWriter = 16, 40
	l := openLog(t, Options{Dir: t.TempDir(), SegmentSize: 256 << 10, MaxBytes: 1 << 30})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				id := uint64(w<<32 | i)
				if _, _, err := l.Append(t.Context(), payload(id, 4000)); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := l.Stats()
	if st.Appends != writers*perWriter {
		t.Fatalf("Stats.Appends = %d, want %d", st.Appends, writers*perWriter)
	}
	if st.Syncs >= st.Appends/2 {
		t.Errorf("%d syncs for %d appends; group commit should share fsyncs", st.Syncs, st.Appends)
	}
	t.Logf("%d syncs for %d appends", st.Syncs, st.Appends)

	// Every record exactly once, each writer's in its order.
	next := make([]int, writers)
	for _, rec := range readAll(t, l, Pos{}) {
		id := binary.LittleEndian.Uint64(rec.Data)
		w, i := int(id>>32), int(id&(1<<32-1))
		if i != next[w] {
			t.Fatalf("writer %d: record %d, want %d", w, i, next[w])
		}
		if !bytes.Equal(rec.Data, payload(id, 4000)) {
			t.Fatalf("record %v: data differs", rec.Pos)
		}
		next[w]++
	}
	for w, n := range next {
		if n != perWriter {
			t.Errorf("writer %d: %d records, want %d", w, n, perWriter)
		}
	}
}

func TestClose(t *testing.T) {
	l := openLog(t, Options{Dir: t.TempDir()})
	appendAll(t, l, []int{10, 20, 30}, 1, 0)
	r := l.NewReader(Pos{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := l.Append(t.Context(), []byte("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if err := l.Release(Pos{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Release after Close = %v, want ErrClosed", err)
	}
	// The reader still gets every durable record, then ErrClosed.
	for i := range 3 {
		if _, err := r.Next(t.Context()); err != nil {
			t.Fatalf("Next %d after Close: %v", i, err)
		}
	}
	if _, err := r.Next(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Next at the end after Close = %v, want ErrClosed", err)
	}
}

func TestCloseWakesReaderAndWaitsForAppends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := openLog(t, Options{Dir: t.TempDir()})
		r := l.NewReader(Pos{})
		errc := make(chan error)
		go func() {
			for {
				if _, err := r.Next(t.Context()); err != nil {
					errc <- err
					return
				}
			}
		}()
		var wg sync.WaitGroup
		for i := range uint64(4) {
			wg.Go(func() {
				if _, _, err := l.Append(t.Context(), payload(i, 100)); err != nil && !errors.Is(err, ErrClosed) {
					t.Errorf("Append: %v", err)
				}
			})
		}
		synctest.Wait()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("blocked Next after Close = %v, want ErrClosed", err)
		}
		if st := l.Stats(); st.End.Off != int64(st.Records)*108 {
			t.Errorf("Close left appended records not durable: %+v", st)
		}
	})
}

// TestAppendWithin: records come back written even when the fsync is not
// waited for, they are readable once durable, and Close makes them
// durable.
func TestAppendWithin(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, SegmentSize: 1 << 20, MaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, end, durable, err := l.AppendWithin(ctx, 0, []byte("quick"))
	if err != nil {
		t.Fatal(err)
	}
	_, end2, durable2, err := l.AppendWithin(ctx, time.Minute, []byte("patient"))
	if err != nil || !durable2 {
		t.Fatalf("with time to wait: durable=%v err=%v", durable2, err)
	}
	if !end.Less(end2) {
		t.Errorf("positions %v, %v", end, end2)
	}
	t.Logf("zero wait: durable=%v", durable)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = Open(Options{Dir: dir, SegmentSize: 1 << 20, MaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := l.NewReader(Pos{})
	for _, want := range []string{"quick", "patient"} {
		rec, err := r.Next(ctx)
		if err != nil || string(rec.Data) != want {
			t.Fatalf("read %q %v, want %q", rec.Data, err, want)
		}
	}
}

// TestReleasedSegmentsReaped: released segments are renamed out of the
// sequence at once and deleted by the reaper; trash a crash left behind is
// deleted by Open, and never read as a segment.
func TestReleasedSegmentsReaped(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, SegmentSize: 1 << 20, MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec := make([]byte, 256<<10)
	var end Pos
	for i := 0; i < 12; i++ {
		if _, end, err = l.Append(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Release(end); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		left, _ := filepath.Glob(filepath.Join(dir, "*"+trashExt))
		segs, _ := listSegments(dir)
		if len(left) == 0 && len(segs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after release: %d segments, trash %v", len(segs), left)
		}
	}
	l.Close()

	// A crash between the rename and the reaper leaves trash.
	junk := filepath.Join(dir, segName(1)+trashExt)
	if err := os.WriteFile(junk, []byte("not a segment"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err = Open(Options{Dir: dir, SegmentSize: 1 << 20, MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := os.Stat(junk); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("trash not removed at Open: %v", err)
	}
}
