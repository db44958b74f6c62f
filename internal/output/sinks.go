package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/journal"
)

// Format is how a line sink renders an alert.
type Format int

// Formats.
const (
	JSON Format = iota // Falco's JSON alert, one per line
	Text               // Falco's text line: "HH:MM:SS.nnnnnnnnn: Priority message"
)

// ParseFormat parses "json" or "text".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "json":
		return JSON, nil
	case "text":
		return Text, nil
	}
	return 0, fmt.Errorf("invalid output format %q: expected json or text", s)
}

// appendAlert renders a as one line.
func appendAlert(dst []byte, a *journal.Alert, f Format, loc *time.Location) []byte {
	if f == Text {
		dst = alert.AppendText(dst, &a.Alert, loc)
	} else {
		dst = alert.AppendJSON(dst, &a.Alert, loc)
	}
	return append(dst, '\n')
}

// Writer is a sink that writes lines to an io.Writer, such as stdout.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	f   Format
	loc *time.Location
	buf []byte
}

// NewWriter returns a sink writing to w.
func NewWriter(w io.Writer, f Format, loc *time.Location) *Writer {
	return &Writer{w: w, f: f, loc: loc}
}

// Send implements Sink.
func (s *Writer) Send(_ context.Context, alerts []*journal.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.buf[:0]
	for _, a := range alerts {
		s.buf = appendAlert(s.buf, a, s.f, s.loc)
	}
	_, err := s.w.Write(s.buf)
	return err
}

// Close implements Sink; it does not close the writer.
func (s *Writer) Close() error { return nil }

// File is a sink that appends lines to a file, synced after each batch,
// and rotates it by size and age.
type File struct {
	Writer
	path string
	rot  Rotation
	file *os.File
	size int64
	born time.Time
	now  func() time.Time
}

// Rotation says when a File rotates. Zero values disable each bound.
type Rotation struct {
	MaxSize  int64         // rotate before a batch would take the file past this size
	MaxAge   time.Duration // rotate a file older than this
	MaxFiles int           // rotated files kept; older ones are deleted (0 = keep all)
}

// OpenFile opens path for appending, creating it with mode 0600. A torn
// last line, left by a crash in the middle of a write, is cut off: its
// batch was not confirmed, so it is delivered again whole.
func OpenFile(path string, f Format, loc *time.Location, rot Rotation) (*File, error) {
	s := &File{Writer: Writer{f: f, loc: loc}, path: path, rot: rot, now: time.Now}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *File) open() error {
	fd, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := cutTornLine(fd); err != nil {
		fd.Close()
		return fmt.Errorf("%s: %w", s.path, err)
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return err
	}
	s.file, s.w, s.size = fd, fd, fi.Size()
	s.born = s.now()
	if s.size > 0 {
		s.born = fi.ModTime() // the best guess at its age that survives a restart
	}
	return nil
}

// Send implements Sink.
func (s *File) Send(_ context.Context, alerts []*journal.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.buf[:0]
	for _, a := range alerts {
		s.buf = appendAlert(s.buf, a, s.f, s.loc)
	}
	if s.file == nil { // a rotation failed half-way: open the path again
		if err := s.open(); err != nil {
			return err
		}
	}
	if s.size > 0 && (s.rot.MaxSize > 0 && s.size+int64(len(s.buf)) > s.rot.MaxSize ||
		s.rot.MaxAge > 0 && s.now().Sub(s.born) >= s.rot.MaxAge) {
		if err := s.rotate(); err != nil {
			return fmt.Errorf("rotate %s: %w", s.path, err)
		}
	}
	n, err := s.file.Write(s.buf)
	if err != nil {
		// A partial batch (a full disk) would merge with the retry's first
		// line: cut it off, as OpenFile cuts a torn line.
		if n > 0 {
			s.file.Truncate(s.size)
		}
		return err
	}
	s.size += int64(n)
	return s.file.Sync()
}

// rotate renames the file with a UTC timestamp suffix, opens a new one and
// deletes the oldest rotated files past MaxFiles.
func (s *File) rotate() error {
	err := s.file.Close()
	s.file = nil
	if err != nil {
		return err
	}
	stamp := s.now().UTC().Format("20060102T150405Z")
	dst := s.path + "." + stamp
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s.%s-%d", s.path, stamp, i)
	}
	if err := os.Rename(s.path, dst); err != nil {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	if s.rot.MaxFiles > 0 {
		old, err := filepath.Glob(s.path + ".2*")
		if err != nil {
			return err
		}
		sort.Strings(old)
		for len(old) > s.rot.MaxFiles {
			if err := os.Remove(old[0]); err != nil {
				return err
			}
			old = old[1:]
		}
	}
	return nil
}

// Close implements Sink.
func (s *File) Close() error {
	if s.file == nil {
		return nil
	}
	return s.file.Close()
}

// cutTornLine truncates f after its last newline.
func cutTornLine(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	end := fi.Size()
	buf := make([]byte, 64<<10)
	for off := end; off > 0; {
		n := int64(len(buf))
		if off < n {
			n = off
		}
		off -= n
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			if cut := off + int64(i) + 1; cut != end {
				return f.Truncate(cut)
			}
			return nil
		}
	}
	if end > 0 {
		return f.Truncate(0)
	}
	return nil
}
