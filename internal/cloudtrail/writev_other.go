//go:build !linux

package cloudtrail

type iovec struct{}

// writeRun appends lines, each with a newline, in one write.
func (r *rotatingFile) writeRun(lines [][]byte) error { return r.writeBuffered(lines) }
