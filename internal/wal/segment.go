package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// segExt is the file name extension of segment files.
const segExt = ".wal"

// scanBufSize is the read buffer used to validate segments at Open.
const scanBufSize = 4 << 20

// errMissingSegment means the sequence numbers of the segment files have
// a gap.
var errMissingSegment = errors.New("segment file missing from sequence")

// segment is one segment file as the Log tracks it.
type segment struct {
	seq  uint64 // sequence number, from the file name
	size int64  // bytes in the file; final unless it is the last segment
}

// segName returns the file name of segment seq.
func segName(seq uint64) string {
	return fmt.Sprintf("%020d%s", seq, segExt)
}

// listSegments returns the sequence numbers of the segment files in dir,
// in order. Other files are ignored.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var seqs []uint64
	for _, e := range ents {
		name := e.Name()
		base, ok := strings.CutSuffix(name, segExt)
		if !ok || len(base) != 20 || !e.Type().IsRegular() {
			continue
		}
		seq, err := strconv.ParseUint(base, 10, 64)
		if err != nil || seq == 0 {
			continue
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return nil, &CorruptError{File: filepath.Join(dir, segName(seqs[i-1]+1)), Err: errMissingSegment}
		}
	}
	return seqs, nil
}

// scanSegment validates every record of the segment file at path and
// returns the offset after the last good record and the file size. For
// the last segment (last is true) a torn tail is not an error: good < size
// tells the caller to truncate. Anything else bad is a *CorruptError.
func scanSegment(path string, last bool, sr *segReader) (good, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("stat segment: %w", err)
	}
	size = fi.Size()
	sr.reset(f, scanBufSize)
	var off int64
	for off < size {
		_, next, err := sr.read(off, size)
		if err == nil {
			off = next
			continue
		}
		if !isDecodeError(err) {
			return 0, 0, err
		}
		if !last {
			return 0, 0, &CorruptError{File: path, Off: off, Err: err}
		}
		// A bad record is a torn tail unless a good record follows it
		// where its header says the next one starts.
		if errors.Is(err, errChecksum) && next < size {
			if _, _, err2 := sr.read(next, size); err2 == nil {
				return 0, 0, &CorruptError{File: path, Off: off, Err: err}
			}
		}
		return off, size, nil
	}
	return off, size, nil
}
