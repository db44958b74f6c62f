package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// buildLog writes records of the given sizes to a new log in a fresh
// directory, closes it and returns the directory and what was appended.
func buildLog(t *testing.T, o Options, sizes []int) (string, []Record) {
	t.Helper()
	o.Dir = t.TempDir()
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, sizes, 1, 0)
	recs := readAll(t, l, Pos{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return o.Dir, recs
}

// copyDir copies the files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// damage describes one way to damage the byte range of a record.
type damage struct {
	name string
	do   func(b []byte, off, end int64) []byte // returns the damaged file
}

// tornDamages returns every truncation inside [off, end) and byte flips
// in the length, the checksum and the payload.
func tornDamages(off, end int64) []damage {
	var ds []damage
	for cut := off; cut < end; cut++ {
		ds = append(ds, damage{fmt.Sprintf("truncate at %d", cut), func(b []byte, _, _ int64) []byte { return b[:cut] }})
	}
	flip := func(name string, at int64) damage {
		return damage{name, func(b []byte, _, _ int64) []byte {
			b = bytes.Clone(b)
			b[at] ^= 0x40
			return b
		}}
	}
	ds = append(ds,
		flip("flip length byte", off),
		flip("flip high length byte", off+3),
		flip("flip checksum byte", off+5),
		flip("flip first payload byte", off+headerSize),
		flip("flip last payload byte", end-1),
	)
	return ds
}

func TestTornTail(t *testing.T) {
	tests := []struct {
		name    string
		segSize int64
		sizes   []int
	}{
		{"single segment", 1 << 20, []int{50, 60, 70}},
		{"only record of last segment", 100, []int{120, 120, 30}},
		{"after rolls", 300, sizesOf(12, 40, 90, 20)},
		{"empty payload last", 1 << 20, []int{30, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{SegmentSize: tc.segSize, MaxBytes: 1 << 22}
			src, recs := buildLog(t, o, tc.sizes)
			last := recs[len(recs)-1]
			path := segName(last.Pos.Seg)
			orig, err := os.ReadFile(filepath.Join(src, path))
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(orig)) != last.Next.Off {
				t.Fatalf("last segment is %d bytes, last record ends at %v", len(orig), last.Next)
			}
			for _, d := range tornDamages(last.Pos.Off, last.Next.Off) {
				t.Run(d.name, func(t *testing.T) {
					dir := copyDir(t, src)
					damaged := d.do(orig, last.Pos.Off, last.Next.Off)
					if err := os.WriteFile(filepath.Join(dir, path), damaged, 0o644); err != nil {
						t.Fatal(err)
					}
					o.Dir = dir
					l := openLog(t, o)
					st := l.Stats()
					if want := int64(len(damaged)) - last.Pos.Off; st.TornBytes != want {
						t.Errorf("TornBytes = %d, want %d", st.TornBytes, want)
					}
					if st.End != last.Pos {
						t.Errorf("End = %v, want %v", st.End, last.Pos)
					}
					got := readAll(t, l, Pos{})
					if len(got) != len(recs)-1 {
						t.Fatalf("read %d records, want %d", len(got), len(recs)-1)
					}
					for i := range got {
						if got[i].Pos != recs[i].Pos || !bytes.Equal(got[i].Data, recs[i].Data) {
							t.Fatalf("record %d = %v, want %v", i, got[i].Pos, recs[i].Pos)
						}
					}
					// Appends continue from the good end and survive a reopen.
					first, _, err := l.Append(t.Context(), []byte("after the tear"))
					if err != nil || first != last.Pos {
						t.Fatalf("Append = %v, %v, want at %v", first, err, last.Pos)
					}
					l.Close()
					l2 := openLog(t, o)
					again := readAll(t, l2, Pos{})
					if len(again) != len(recs) || string(again[len(again)-1].Data) != "after the tear" {
						t.Fatalf("after reopen read %d records, want %d ending with the new one", len(again), len(recs))
					}
					if st := l2.Stats(); st.TornBytes != 0 {
						t.Errorf("second Open dropped %d bytes", st.TornBytes)
					}
				})
			}
		})
	}
}

func TestCorruption(t *testing.T) {
	// Three segments of three 100-byte records (108 bytes each).
	o := Options{SegmentSize: 300, MaxBytes: 1 << 20}
	src, recs := buildLog(t, o, sizesOf(9, 100))
	if recs[8].Pos.Seg != 3 {
		t.Fatalf("layout: last record at %v, want segment 3", recs[8].Pos)
	}
	tests := []struct {
		name   string
		damage func(dir string) error
		want   string
	}{
		{"flipped payload in older segment", func(dir string) error {
			return flipByte(filepath.Join(dir, segName(1)), 108+50)
		}, "open wal: wal: corrupt record in %s at offset 108: record checksum mismatch"},
		{"flipped checksum of the last record of an older segment", func(dir string) error {
			return flipByte(filepath.Join(dir, segName(2)), 216+4)
		}, "open wal: wal: corrupt record in %s at offset 216: record checksum mismatch"},
		{"older segment cut short", func(dir string) error {
			return os.Truncate(filepath.Join(dir, segName(2)), 300)
		}, "open wal: wal: corrupt record in %s at offset 216: short record payload"},
		{"bad record followed by a good one in the last segment", func(dir string) error {
			return flipByte(filepath.Join(dir, segName(3)), 108+20)
		}, "open wal: wal: corrupt record in %s at offset 108: record checksum mismatch"},
		{"missing segment", func(dir string) error {
			return os.Remove(filepath.Join(dir, segName(2)))
		}, "open wal: wal: corrupt record in %s at offset 0: segment file missing from sequence"},
	}
	files := []string{segName(1), segName(2), segName(2), segName(3), segName(2)}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, src)
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Open(Options{Dir: dir, SegmentSize: o.SegmentSize, MaxBytes: o.MaxBytes})
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open = %v, want a *CorruptError", err)
			}
			file := filepath.Join(dir, files[i])
			if want := fmt.Sprintf(tc.want, file); err.Error() != want {
				t.Errorf("Open error:\n got %s\nwant %s", err, want)
			}
			if ce.File != file {
				t.Errorf("CorruptError.File = %s, want %s", ce.File, file)
			}
		})
	}
}

func TestReaderCorruption(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, SegmentSize: 300, MaxBytes: 1 << 20})
	appendAll(t, l, sizesOf(6, 100), 1, 0)
	if err := flipByte(filepath.Join(dir, segName(1)), 108+50); err != nil {
		t.Fatal(err)
	}
	r := l.NewReader(Pos{})
	defer r.Close()
	if _, err := r.Next(t.Context()); err != nil {
		t.Fatalf("first Next: %v", err)
	}
	_, err := r.Next(t.Context())
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Off != 108 || ce.File != filepath.Join(dir, segName(1)) || !errors.Is(err, errChecksum) {
		t.Fatalf("Next over a flipped byte = %v, want a *CorruptError at offset 108", err)
	}
}

// flipByte inverts one bit of the byte at off in the file at path.
func flipByte(path string, off int64) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	b[off] ^= 0x01
	return os.WriteFile(path, b, 0o644)
}
