//go:build linux

package inventory

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// rpmDatabaseFile gives osv-scalibr's rpm extractor, which opens its database by
// path (go-rpmdb calls os.Open and, for sqlite, database/sql), a path to data
// without writing it anywhere: data is copied into an anonymous memory file
// (memfd_create) named /proc/self/fd/N, and a sqlite database is also registered
// with sqliteMemFS, the process's default sqlite VFS, under that name, because
// sqlite resolves /proc/self/fd/N's link to a name it cannot open (and would
// create). It returns the ScanInput Root and Path to use and a release func that
// closes the memory file and revokes the sqlite registration.
func rpmDatabaseFile(data []byte) (root, path string, release func(), err error) {
	format, prepared, err := prepareRPMDatabase(data)
	if err != nil {
		return "", "", nil, err
	}
	fd, err := unix.MemfdCreate("tidewatch-rpmdb", unix.MFD_CLOEXEC)
	if err != nil {
		return "", "", nil, fmt.Errorf("creating an in-memory file: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:tidewatch-rpmdb")
	if _, err := f.Write(prepared); err != nil {
		f.Close()
		return "", "", nil, fmt.Errorf("filling an in-memory file: %w", err)
	}
	name := strconv.Itoa(fd)
	full := "/proc/self/fd/" + name
	revoke := func() {}
	if format == rpmSQLite {
		if revoke, err = registerSQLite(full, prepared); err != nil {
			f.Close()
			return "", "", nil, err
		}
	}
	return "/proc/self/fd", name, func() {
		revoke()
		f.Close()
	}, nil
}
