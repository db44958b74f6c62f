package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// encodeRecord returns the on-disk bytes of a record of p.
func encodeRecord(p []byte) []byte {
	b := make([]byte, headerSize, headerSize+len(p))
	putHeader(b, len(p), headerChecksum(p))
	return append(b, p...)
}

// fuzzSeeds adds segment images: valid records, a torn one, garbage.
func fuzzSeeds(f *testing.F) {
	good := append(encodeRecord([]byte("hello")), encodeRecord(nil)...)
	good = append(good, encodeRecord(bytes.Repeat([]byte{0xab}, 300))...)
	f.Add([]byte{})
	f.Add(good)
	f.Add(good[:len(good)-7])
	f.Add(append(bytes.Clone(good), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	bad := bytes.Clone(good)
	bad[10] ^= 1
	f.Add(bad)
}

func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			p, n, err := decodeRecord(b)
			if err != nil {
				if !isDecodeError(err) {
					t.Fatalf("decodeRecord: unexpected error %v", err)
				}
				return
			}
			if n != int64(headerSize+len(p)) || !bytes.Equal(encodeRecord(p), b[:n]) {
				t.Fatalf("decoded record of %d bytes does not re-encode to its input", n)
			}
			b = b[n:]
		}
	})
}

func FuzzOpen(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		o := Options{Dir: dir, SegmentSize: 1 << 20, MaxBytes: 1 << 30, NoSync: true}
		l, err := Open(o)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open = %v, want nil or a *CorruptError", err)
			}
			return
		}
		defer l.Close()
		recs := readAll(t, l, Pos{})
		st := l.Stats()
		var size int64
		for _, r := range recs {
			size += headerSize + int64(len(r.Data))
		}
		if size != st.End.Off || size+st.TornBytes != int64(len(b)) {
			t.Fatalf("records cover %d bytes, End %v, torn %d, file %d", size, st.End, st.TornBytes, len(b))
		}
		if !bytes.Equal(b[:size], recordsImage(recs)) {
			t.Fatal("records do not match the file")
		}
		if _, _, err := l.Append(t.Context(), []byte("next")); err != nil {
			t.Fatalf("Append after Open: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l2, err := Open(o)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer l2.Close()
		if again := readAll(t, l2, Pos{}); len(again) != len(recs)+1 || string(again[len(recs)].Data) != "next" {
			t.Fatalf("after reopen read %d records, want %d", len(again), len(recs)+1)
		}
	})
}

// recordsImage returns the on-disk bytes of recs.
func recordsImage(recs []Record) []byte {
	var b []byte
	for _, r := range recs {
		b = append(b, encodeRecord(r.Data)...)
	}
	return b
}
