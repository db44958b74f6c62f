package output

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
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

// File is a sink that appends lines to a file, synced after each batch.
// (Rotation comes with the file output of issue 4; logrotate's
// copytruncate works meanwhile.)
type File struct {
	Writer
	file *os.File
}

// OpenFile opens path for appending, creating it with mode 0600. A torn
// last line, left by a crash in the middle of a write, is cut off: its
// batch was not confirmed, so it is delivered again whole.
func OpenFile(path string, f Format, loc *time.Location) (*File, error) {
	fd, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := cutTornLine(fd); err != nil {
		fd.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{Writer: Writer{w: fd, f: f, loc: loc}, file: fd}, nil
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

// Send implements Sink.
func (s *File) Send(ctx context.Context, alerts []*journal.Alert) error {
	if err := s.Writer.Send(ctx, alerts); err != nil {
		return err
	}
	return s.file.Sync()
}

// Close implements Sink.
func (s *File) Close() error { return s.file.Close() }
