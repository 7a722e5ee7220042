//go:build !linux

package inventory

import (
	"context"
	"errors"
)

// errNeedsLinux says rpm databases are read only on Linux: handing one to
// osv-scalibr's rpm extractor without writing it to disk takes memfd_create, and
// the in-memory sqlite VFS is built for Linux.
var errNeedsLinux = errors.New("reading rpm databases needs Linux (memfd_create)")

type rpmMemFile struct{ root, name string }

func newRPMMemFile() (*rpmMemFile, error) { return nil, errNeedsLinux }
func (m *rpmMemFile) set([]byte) error    { return errNeedsLinux }
func (m *rpmMemFile) Close() error        { return nil }

func sqliteHeaders(context.Context, []byte) ([][]byte, error) { return nil, errNeedsLinux }
