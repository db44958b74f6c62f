package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// headerSize is the size of a record header: length, then CRC-32C.
const headerSize = 8

// castagnoli is the CRC-32C table; it is never written after init.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Reasons a record fails to decode; CorruptError wraps one of them.
var (
	errShortHeader  = errors.New("short record header")
	errShortPayload = errors.New("short record payload")
	errChecksum     = errors.New("record checksum mismatch")
)

// CorruptError reports a bad record that is not a torn tail: a record in
// a segment other than the last, or one followed by a good record.
type CorruptError struct {
	File string // path of the segment file
	Off  int64  // byte offset of the bad record in File
	Err  error  // what is wrong with it
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("wal: corrupt record in %s at offset %d: %v", e.File, e.Off, e.Err)
}

// Unwrap returns the underlying reason.
func (e *CorruptError) Unwrap() error { return e.Err }

// checksum returns the CRC-32C of the 4 length bytes followed by payload.
func checksum(lenBytes []byte, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, lenBytes), castagnoli, payload)
}

// putHeader writes the header of payload, whose checksum is sum, into h.
func putHeader(h []byte, n int, sum uint32) {
	binary.LittleEndian.PutUint32(h[0:4], uint32(n))
	binary.LittleEndian.PutUint32(h[4:8], sum)
}

// headerChecksum returns the checksum a record of payload will carry.
func headerChecksum(payload []byte) uint32 {
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], uint32(len(payload)))
	return checksum(l[:], payload)
}

// decodeRecord decodes the record at the start of b. It returns the
// payload (aliasing b) and the record's total size n. On errChecksum, n is
// still the size the header claims, so the caller can look past it.
func decodeRecord(b []byte) (payload []byte, n int64, err error) {
	if len(b) < headerSize {
		return nil, 0, errShortHeader
	}
	size := int64(binary.LittleEndian.Uint32(b[0:4]))
	n = headerSize + size
	if int64(len(b)) < n {
		return nil, n, errShortPayload
	}
	payload = b[headerSize:n]
	if checksum(b[0:4], payload) != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, n, errChecksum
	}
	return payload, n, nil
}

// segReader reads records of one segment file through a buffer with
// ReadAt, never past a limit the caller gives, so it can read a file that
// is being appended to.
type segReader struct {
	f      *os.File // the segment file
	buf    []byte   // buffered file bytes, buf[:n] holds [bufOff, bufOff+n)
	bufOff int64    // file offset of buf[0]
	n      int      // valid bytes in buf
}

// reset points r at f with an empty buffer of at least size bytes.
func (r *segReader) reset(f *os.File, size int) {
	r.f = f
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	r.buf = r.buf[:cap(r.buf)]
	r.bufOff, r.n = 0, 0
}

// fill makes sure the buffer holds need bytes from off, reading ahead as
// far as limit allows. It returns false when the file or limit ends first.
func (r *segReader) fill(off, need, limit int64) (bool, error) {
	if off >= r.bufOff && off+need <= r.bufOff+int64(r.n) {
		return true, nil
	}
	if off+need > limit {
		return false, nil
	}
	if int64(len(r.buf)) < need {
		r.buf = make([]byte, need+need/4)
	}
	want := min(int64(len(r.buf)), limit-off)
	m, err := r.f.ReadAt(r.buf[:want], off)
	r.bufOff, r.n = off, m
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read %s: %w", r.f.Name(), err)
	}
	return int64(m) >= need, nil
}

// read decodes the record at off, which must end at or before limit. It
// returns the payload (aliasing the buffer), the offset after the record
// and, on a bad record, one of the decode errors (with next set from the
// header when the header was readable).
func (r *segReader) read(off, limit int64) (payload []byte, next int64, err error) {
	ok, err := r.fill(off, headerSize, limit)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, errShortHeader
	}
	h := r.buf[off-r.bufOff:]
	n := headerSize + int64(binary.LittleEndian.Uint32(h[0:4]))
	if ok, err = r.fill(off, n, limit); err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, off + n, errShortPayload
	}
	payload, n, err = decodeRecord(r.buf[off-r.bufOff : off-r.bufOff+n])
	return payload, off + n, err
}

// isDecodeError reports whether err says the bytes are bad (as opposed to
// an I/O error).
func isDecodeError(err error) bool {
	return errors.Is(err, errShortHeader) || errors.Is(err, errShortPayload) || errors.Is(err, errChecksum)
}
