package tail

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// errTruncated reports that the file being read was truncated in place (or
// truncated and rewritten) since it was last looked at.
var errTruncated = errors.New("file truncated")

// skipMode says whether bytes at the start of the buffer are being thrown
// away up to the next newline.
type skipMode int

const (
	skipNone    skipMode = iota // reading lines
	skipLong                    // inside a line longer than MaxLine: counted and reported when it ends
	skipPartial                 // inside the partial line found at the end of the file by StartAtEnd: not counted
)

// file is the file being read and where reading stands in it. The bytes
// buf[lo:hi] of the Tailer's buffer are the file's bytes from off on.
type file struct {
	f        *os.File
	name     string      // name the file was opened under
	info     os.FileInfo // from Stat at open, for os.SameFile
	dev, ino uint64      // identity persisted with the position
	fp       fingerprint // of the file's first bytes, grown as the file grows
	off      int64       // offset of buf[lo]: everything before it was published or skipped
	lo, hi   int         // unconsumed bytes in the Tailer's buffer
	size     int64       // size at the last check
	skip     skipMode    // throwing away bytes up to the next newline
	skipFrom int64       // where the line being skipped started
	quiet    bool        // the path names another file and nothing was read since that was noticed
	isCopy   bool        // a copy found after a truncation, not a file that was at the path
}

// openFile opens name and identifies it.
func openFile(name string) (*file, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	dev, ino := inode(fi)
	return &file{f: f, name: name, info: fi, dev: dev, ino: ino, size: fi.Size()}, nil
}

// position returns the position to persist.
func (c *file) position() Position {
	return Position{
		File:           c.name,
		Dev:            c.dev,
		Inode:          c.ino,
		FingerprintLen: c.fp.n,
		Fingerprint:    hex.EncodeToString(c.fp.sum[:]),
		Offset:         c.off,
	}
}

// verify checks, after bytes up to end were read, that the file was not
// truncated in place: it must still be at least end bytes long and still
// start with the bytes it was fingerprinted with. Reading first and
// verifying afterwards is what makes this sound: if the check passes, the
// file was not truncated before the read, so what was read is the old
// content. While the fingerprint covers less than FingerprintMax bytes it
// is extended from the same read of the start.
func (c *file) verify(end int64, scratch *[FingerprintMax]byte) error {
	fi, err := c.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", c.name, err)
	}
	if fi.Size() < end {
		return errTruncated
	}
	prefix, err := readPrefix(c.f, fi.Size(), scratch)
	if err != nil {
		return err
	}
	if !c.fp.matches(prefix) {
		return errTruncated
	}
	if c.fp.n < FingerprintMax {
		if fp := fingerprintOf(prefix); fp.n > c.fp.n {
			c.fp = fp
		}
	}
	c.size = fi.Size()
	return nil
}

// cut looks at buffered bytes that start a line and returns how many of
// them form the next batch: whole lines, at most chunk bytes unless the
// first line alone is longer. It returns long when the first line is longer
// than maxLine (complete or not), and 0, false when only an incomplete line
// is buffered.
func cut(data []byte, chunk, maxLine int) (n int, long bool) {
	for n < len(data) {
		i := bytes.IndexByte(data[n:], '\n')
		if i < 0 {
			if n == 0 && len(data) > maxLine {
				return 0, true
			}
			break
		}
		l := i + 1
		if l > maxLine {
			if n == 0 {
				return 0, true
			}
			break
		}
		if n > 0 && n+l > chunk {
			break
		}
		n += l
	}
	return n, false
}

// findFile looks in dir for the file that pos names, when it is no longer
// at the path: renamed by a rotation (same device, inode and fingerprint),
// or, failing that, copied by logrotate's copytruncate (a different inode
// with the same fingerprint, which then must cover at least one whole
// line). It ignores exclude (the file now at the path), files shorter than
// the saved offset and stateFile. Among several copies it takes the
// longest. It returns nil when nothing matches.
func findFile(dir string, pos Position, fp fingerprint, exclude os.FileInfo, stateFile string) (*file, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", dir, err)
	}
	var scratch [FingerprintMax]byte
	best, bestSize, exact := "", int64(-1), false
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		if !e.Type().IsRegular() || name == stateFile || strings.HasPrefix(name, stateFile+".tmp-") {
			continue
		}
		fi, err := e.Info()
		if err != nil || (exclude != nil && os.SameFile(fi, exclude)) || fi.Size() < pos.Offset {
			continue
		}
		dev, ino := inode(fi)
		same := ino != 0 && dev == pos.Dev && ino == pos.Inode
		if !same && (fp.n == 0 || fi.Size() <= bestSize) {
			continue
		}
		if !prefixMatches(name, fi.Size(), fp, &scratch) {
			continue
		}
		best, bestSize = name, fi.Size()
		if same {
			exact = true
			break
		}
	}
	if best == "" {
		return nil, nil
	}
	c, err := openFile(best)
	if err != nil {
		return nil, err
	}
	// Check again through the descriptor: the name could have changed
	// between the directory scan and the open.
	dev, ino := inode(c.info)
	same := ino != 0 && dev == pos.Dev && ino == pos.Inode
	prefix, err := readPrefix(c.f, c.info.Size(), &scratch)
	if err != nil || same != exact || !fp.matches(prefix) || c.info.Size() < pos.Offset {
		c.f.Close()
		return nil, err
	}
	c.fp = fp
	c.off = pos.Offset
	c.isCopy = !exact
	return c, nil
}

// prefixMatches reports whether the file name starts with the bytes fp was
// made from.
func prefixMatches(name string, size int64, fp fingerprint, scratch *[FingerprintMax]byte) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	prefix, err := readPrefix(f, size, scratch)
	return err == nil && fp.matches(prefix)
}
