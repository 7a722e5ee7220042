package inventory

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// rpmFormat is the storage format of an rpm database file.
type rpmFormat int

const (
	rpmNotADatabase rpmFormat = iota
	rpmSQLite
	rpmNDB
	rpmBerkeleyDB
)

// rpmFormatOf tells the format of an rpm database from its first bytes.
func rpmFormatOf(data []byte) rpmFormat {
	switch {
	case bytes.HasPrefix(data, sqliteMagic):
		return rpmSQLite
	case len(data) >= 4 && binary.LittleEndian.Uint32(data) == ndbMagic:
		return rpmNDB
	case len(data) >= 16 && (binary.LittleEndian.Uint32(data[12:]) == bdbHashMagic || binary.BigEndian.Uint32(data[12:]) == bdbHashMagic):
		return rpmBerkeleyDB
	}
	return rpmNotADatabase
}

// errNotRPMDatabase says a file at an rpm database path is none of the formats rpm
// writes.
var errNotRPMDatabase = errors.New("not an rpm database (no sqlite, NDB or BerkeleyDB hash header)")

// prepareRPMDatabase checks an rpm database held in memory and returns the bytes to
// hand osv-scalibr's rpm extractor (go-rpmdb underneath), or why it cannot be read.
// Each format is checked where go-rpmdb trusts its input (a loop in a BerkeleyDB
// overflow chain, an NDB blob length past the file) so a hostile file cannot make it
// spin or allocate without bound, and adjusted where go-rpmdb would read it wrong
// (see prepareBerkeleyDB, prepareSQLite). data is not modified.
func prepareRPMDatabase(data []byte) (rpmFormat, []byte, error) {
	switch f := rpmFormatOf(data); f {
	case rpmSQLite:
		out, err := prepareSQLite(data)
		return f, out, err
	case rpmNDB:
		return f, data, checkNDB(data)
	case rpmBerkeleyDB:
		out, err := prepareBerkeleyDB(data)
		return f, out, err
	default:
		return f, nil, errNotRPMDatabase
	}
}

// sqliteMagic starts every sqlite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// prepareSQLite returns a copy of a sqlite database marked as a rollback-journal
// database (file format bytes 18 and 19 set to 1). rpm keeps rpmdb.sqlite in WAL
// mode, and sqlite opens a WAL database only with a shared-memory index beside it,
// which the in-memory file system the copy is read from (sqliteMemFS) cannot give.
// The layer holds the database file alone, so there is no WAL content to lose.
func prepareSQLite(data []byte) ([]byte, error) {
	if len(data) < 100 {
		return nil, fmt.Errorf("a sqlite database of %d bytes is shorter than its 100-byte header", len(data))
	}
	out := bytes.Clone(data)
	if out[18] == 2 || out[19] == 2 {
		out[18], out[19] = 1, 1
	}
	return out, nil
}

// NDB layout constants (rpm lib/backend/ndb/rpmpkg.c).
const (
	ndbMagic          = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic      = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic      = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbHeaderSize     = 32
	ndbSlotSize       = 16
	ndbBlobHeaderSize = 16
	ndbSlotsPerPage   = 4096 / ndbSlotSize
	ndbMaxSlotPages   = 2048 // go-rpmdb's own limit
)

// checkNDB verifies what go-rpmdb reads from an NDB Packages.db without checking:
// every used slot's blob lies inside the file, with its magic and package index.
func checkNDB(data []byte) error {
	if len(data) < ndbHeaderSize {
		return fmt.Errorf("an NDB database of %d bytes is shorter than its header", len(data))
	}
	le := binary.LittleEndian
	version, pages := le.Uint32(data[4:]), le.Uint32(data[12:])
	if version != 0 || pages == 0 || pages > ndbMaxSlotPages {
		return fmt.Errorf("NDB header has version %d and %d slot pages (want version 0, 1 to %d pages)", version, pages, ndbMaxSlotPages)
	}
	slotsEnd := int64(pages) * 4096
	if slotsEnd > int64(len(data)) {
		return fmt.Errorf("NDB slot pages end at byte %d, past the file's %d", slotsEnd, len(data))
	}
	size := int64(len(data))
	for off := int64(ndbHeaderSize); off+ndbSlotSize <= slotsEnd; off += ndbSlotSize {
		slot := data[off:]
		if le.Uint32(slot) != ndbSlotMagic {
			return fmt.Errorf("NDB slot at byte %d has no slot magic", off)
		}
		pkg, blk := le.Uint32(slot[4:]), int64(le.Uint32(slot[8:]))
		if pkg == 0 {
			continue
		}
		start := blk * ndbBlobHeaderSize
		if start < slotsEnd || start+ndbBlobHeaderSize > size {
			return fmt.Errorf("NDB package %d starts at byte %d, outside the blob area", pkg, start)
		}
		blob := data[start:]
		if le.Uint32(blob) != ndbBlobMagic || le.Uint32(blob[4:]) != pkg {
			return fmt.Errorf("NDB package %d has no blob header at byte %d", pkg, start)
		}
		if n := int64(le.Uint32(blob[12:])); start+ndbBlobHeaderSize+n > size {
			return fmt.Errorf("NDB package %d claims %d bytes, past the end of the file", pkg, n)
		}
	}
	return nil
}
