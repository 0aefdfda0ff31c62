//go:build !linux

package cloudtrail

// writeLines writes lines, each followed by a newline, at the file's end:
// through one buffer where writev is not used.
func (r *rotatingFile) writeLines(lines [][]byte) (int64, error) { return r.writeLinesBuffered(lines) }
