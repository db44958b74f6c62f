package api

import "time"

// SetStreamWriteTimeout sets streamWriteTimeout until the returned func
// restores it.
func SetStreamWriteTimeout(d time.Duration) (restore func()) {
	old := streamWriteTimeout
	streamWriteTimeout = d
	return func() { streamWriteTimeout = old }
}
