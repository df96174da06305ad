//go:build unix

package compose

import (
	"os"
	"syscall"
)

// linkCount is the number of names a file has on the disk.
func linkCount(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
