//go:build linux

package inventory

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// rpmMemFile is an anonymous memory file (memfd_create) that osv-scalibr's rpm
// extractor, which opens its database by path (go-rpmdb calls os.Open), opens as
// /proc/self/fd/N: the database reaches it without being written to disk.
type rpmMemFile struct {
	f *os.File
	// root and name are the ScanInput Root and Path that open it.
	root, name string
}

// newRPMMemFile creates an empty memory file.
func newRPMMemFile() (*rpmMemFile, error) {
	fd, err := unix.MemfdCreate("tidewatch-rpmdb", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating an in-memory file: %w", err)
	}
	return &rpmMemFile{f: os.NewFile(uintptr(fd), "memfd:tidewatch-rpmdb"), root: "/proc/self/fd", name: strconv.Itoa(fd)}, nil
}

// set replaces the file's contents with data.
func (m *rpmMemFile) set(data []byte) error {
	if err := m.f.Truncate(0); err != nil {
		return fmt.Errorf("emptying the in-memory file: %w", err)
	}
	if _, err := m.f.WriteAt(data, 0); err != nil {
		return fmt.Errorf("filling the in-memory file: %w", err)
	}
	return nil
}

// Close releases the memory.
func (m *rpmMemFile) Close() error { return m.f.Close() }
