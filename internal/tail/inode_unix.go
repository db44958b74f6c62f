//go:build unix

package tail

import (
	"os"
	"syscall"
)

// inode returns the device and inode numbers of fi.
func inode(fi os.FileInfo) (dev, ino uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	// The conversions are needed where the field types are not uint64 (darwin: int32 Dev).
	return uint64(st.Dev), uint64(st.Ino)
}
