package tail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// FingerprintMax is the most bytes at the start of a file that its
// fingerprint covers.
const FingerprintMax = 1024

// stateVersion is the version of the state file format.
const stateVersion = 1

// Position identifies where reading stands: which file (device, inode and a
// fingerprint of its first bytes, so that a reused inode number is noticed)
// and the byte offset up to which its lines have been published (or skipped
// as too long).
type Position struct {
	File           string `json:"file"`            // name the file was opened under (for messages; identity decides)
	Dev            uint64 `json:"dev"`             // device number; 0 where the platform has none
	Inode          uint64 `json:"inode"`           // inode number; 0 where the platform has none
	FingerprintLen int    `json:"fingerprint_len"` // bytes at the start of the file that Fingerprint covers
	Fingerprint    string `json:"fingerprint"`     // hex SHA-256 of the first FingerprintLen bytes
	Offset         int64  `json:"offset"`          // next byte to read
}

// fingerprint is the SHA-256 of the first n bytes of a file. It covers
// FingerprintMax bytes or, while the file is shorter, its complete lines
// only, so that a non-zero fingerprint always includes at least one whole
// line: the first tens of bytes of every audit log are the same
// ({"kind":"Event","apiVersion":...) and would identify nothing.
type fingerprint struct {
	n   int      // bytes covered
	sum [32]byte // SHA-256 of those bytes
}

// fingerprintOf returns the fingerprint of a file whose first bytes (up to
// FingerprintMax) are prefix.
func fingerprintOf(prefix []byte) fingerprint {
	n := len(prefix)
	if n < FingerprintMax {
		n = bytes.LastIndexByte(prefix, '\n') + 1
	}
	if n == 0 {
		return fingerprint{}
	}
	return fingerprint{n: n, sum: sha256.Sum256(prefix[:n])}
}

// matches reports whether a file starting with prefix has this fingerprint.
// A fingerprint covering no bytes matches every file.
func (fp fingerprint) matches(prefix []byte) bool {
	if fp.n == 0 {
		return true
	}
	return len(prefix) >= fp.n && sha256.Sum256(prefix[:fp.n]) == fp.sum
}

// readPrefix reads the first min(size, FingerprintMax) bytes of f into buf.
func readPrefix(f *os.File, size int64, buf *[FingerprintMax]byte) ([]byte, error) {
	n := int(min(size, FingerprintMax))
	got, err := f.ReadAt(buf[:n], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read start of %s: %w", f.Name(), err)
	}
	return buf[:got], nil
}

// stateFile is the JSON document a state file holds.
type stateFile struct {
	Version int `json:"version"`
	Position
}

// readState loads the position saved in path. A missing file means no
// state (ok is false); anything else that cannot be read or parsed is an
// error, so that a damaged state file never silently restarts from 0.
func readState(path string) (p Position, fp fingerprint, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Position{}, fingerprint{}, false, nil
	}
	if err != nil {
		return Position{}, fingerprint{}, false, fmt.Errorf("read tail state: %w", err)
	}
	var s stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Position{}, fingerprint{}, false, fmt.Errorf("tail state %s is corrupt: %w", path, err)
	}
	if s.Version != stateVersion {
		return Position{}, fingerprint{}, false, fmt.Errorf("tail state %s is corrupt: version %d, want %d", path, s.Version, stateVersion)
	}
	p = s.Position
	sum, err := hex.DecodeString(p.Fingerprint)
	switch {
	case err != nil || len(sum) != sha256.Size:
		return Position{}, fingerprint{}, false, fmt.Errorf("tail state %s is corrupt: bad fingerprint %q", path, p.Fingerprint)
	case p.FingerprintLen < 0 || p.FingerprintLen > FingerprintMax:
		return Position{}, fingerprint{}, false, fmt.Errorf("tail state %s is corrupt: fingerprint_len %d out of range", path, p.FingerprintLen)
	case p.Offset < 0:
		return Position{}, fingerprint{}, false, fmt.Errorf("tail state %s is corrupt: negative offset %d", path, p.Offset)
	}
	fp.n = p.FingerprintLen
	copy(fp.sum[:], sum)
	return p, fp, true, nil
}

// writeState saves p to path atomically: a crash leaves either the old or
// the new state, never a torn one. It writes a temporary file in the same
// directory, syncs it, renames it over path and syncs the directory, so
// that the rename itself survives a power loss.
func writeState(path string, p Position) (err error) {
	data, err := json.Marshal(stateFile{Version: stateVersion, Position: p})
	if err != nil {
		return fmt.Errorf("encode tail state: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary tail state: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write tail state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync tail state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close tail state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename tail state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	return nil
}
