//go:build !unix

package tail

import "os"

// inode returns 0, 0: this platform has no inode numbers, so a persisted
// position identifies its file by the fingerprint alone. While running,
// rotation is still detected with os.SameFile.
func inode(os.FileInfo) (dev, ino uint64) { return 0, 0 }
