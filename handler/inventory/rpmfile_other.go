//go:build !linux

package inventory

import "errors"

// rpmDatabaseFile needs Linux's memfd_create to hand osv-scalibr's rpm extractor a
// path without writing the database to disk; elsewhere rpm databases are skipped.
func rpmDatabaseFile([]byte) (string, string, func(), error) {
	return "", "", nil, errors.New("reading rpm databases needs Linux (memfd_create)")
}
