package cloudtrail

import (
	"os"
	"syscall"
	"unsafe"
)

// maxLinesPerWrite is the most lines one writev carries: two vectors a
// line, and Linux takes at most 1024 (IOV_MAX).
const maxLinesPerWrite = 512

// newline is the vector written after each line.
var newline = []byte{'\n'}

// writeLines writes lines, each followed by a newline, at the file's end
// with writev from the lines' own bytes: the events' records are not
// copied into a buffer first. It returns the bytes written; a short write
// goes on from where it stopped, as os.File's Write does.
func (r *rotatingFile) writeLines(lines [][]byte) (int64, error) {
	rc, err := r.f.SyscallConn()
	if err != nil || r.buffered {
		return r.writeLinesBuffered(lines)
	}
	var total int64
	for len(lines) > 0 {
		chunk := lines[:min(len(lines), maxLinesPerWrite)]
		lines = lines[len(chunk):]
		iov := r.iov[:0]
		for _, l := range chunk {
			if len(l) > 0 {
				iov = append(iov, syscall.Iovec{Base: &l[0]})
				iov[len(iov)-1].SetLen(len(l))
			}
			iov = append(iov, syscall.Iovec{Base: &newline[0]})
			iov[len(iov)-1].SetLen(1)
		}
		r.iov = iov
		var werr error
		cerr := rc.Write(func(fd uintptr) bool {
			for len(iov) > 0 {
				n, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
				if e == syscall.EINTR {
					continue
				}
				if e != 0 {
					werr = e
					return true
				}
				if n == 0 {
					werr = syscall.EIO
					return true
				}
				total += int64(n)
				iov = advance(iov, n)
			}
			return true
		})
		clear(r.iov) // the vectors point into the batch's arena
		if werr == nil {
			werr = cerr
		}
		if werr != nil {
			return total, &os.PathError{Op: "writev", Path: r.path, Err: werr}
		}
	}
	return total, nil
}

// advance drops the first n bytes of iov's vectors (a short write's), the
// vectors written whole and the start of the one written in part.
func advance(iov []syscall.Iovec, n uintptr) []syscall.Iovec {
	for n > 0 && len(iov) > 0 {
		if l := uintptr(iov[0].Len); n >= l {
			n -= l
			iov = iov[1:]
			continue
		}
		iov[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(iov[0].Base), n))
		iov[0].SetLen(int(uintptr(iov[0].Len) - n))
		n = 0
	}
	return iov
}
