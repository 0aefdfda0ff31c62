//go:build linux

package cloudtrail

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

type iovec = syscall.Iovec

// iovMax is the most vectors one writev takes (IOV_MAX).
const iovMax = 1024

// newline is the byte every line is followed by.
var newline = [1]byte{'\n'}

// writeRun appends lines, each with a newline, with writev: the lines go
// from the batch's arena to the file, without a copy into a buffer first
// (a read's event line is about 700 bytes: its copy was about a third of
// the events file's cost per event). A write that takes part of the
// vector goes on from where it stopped.
func (r *rotatingFile) writeRun(lines [][]byte) error {
	if len(lines) == 0 {
		return nil
	}
	if r.buffered {
		return r.writeBuffered(lines)
	}
	iov := r.iov[:0]
	for _, l := range lines {
		if len(l) > 0 {
			v := iovec{Base: &l[0]}
			v.SetLen(len(l))
			iov = append(iov, v)
		}
		v := iovec{Base: &newline[0]}
		v.SetLen(1)
		iov = append(iov, v)
	}
	defer func() {
		// The vector points into the batch's arena: it keeps none of it.
		clear(iov[:cap(iov)])
		if cap(iov) <= 4*iovMax {
			r.iov = iov[:0]
		} else {
			r.iov = nil
		}
	}()
	rc, err := r.f.SyscallConn()
	if err != nil {
		return err
	}
	for rest := iov; len(rest) > 0; {
		var n uintptr
		var errno syscall.Errno
		if err := rc.Write(func(fd uintptr) bool {
			n, _, errno = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(min(len(rest), iovMax)))
			return true
		}); err != nil {
			return err
		}
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return &os.PathError{Op: "write", Path: r.path, Err: errno}
		}
		if n == 0 {
			return &os.PathError{Op: "write", Path: r.path, Err: io.ErrShortWrite}
		}
		r.size += int64(n)
		rest = advance(rest, int(n))
	}
	return nil
}

// advance drops the first n bytes of the vector v.
func advance(v []iovec, n int) []iovec {
	for n > 0 && len(v) > 0 {
		if l := int(v[0].Len); n >= l {
			n -= l
			v = v[1:]
			continue
		}
		v[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(v[0].Base), n))
		v[0].SetLen(int(v[0].Len) - n)
		n = 0
	}
	return v
}
