package inventory

import (
	"bytes"
	"context"
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

// maxRPMHeaders bounds the package headers read from one database; real ones hold
// a few thousand.
const maxRPMHeaders = 100_000

// rpmHeaders returns the package headers an rpm database holds, one blob each, in
// the database's order: the storage format is read here (every offset, length and
// chain checked against the file); the headers themselves are parsed by
// osv-scalibr's rpm extractor (rpmPackagesOf).
func rpmHeaders(ctx context.Context, data []byte) ([][]byte, error) {
	var headers [][]byte
	var err error
	switch rpmFormatOf(data) {
	case rpmSQLite:
		headers, err = sqliteHeaders(ctx, data)
	case rpmNDB:
		headers, err = ndbHeaders(data)
	case rpmBerkeleyDB:
		headers, err = bdbHeaders(data)
	default:
		return nil, errNotRPMDatabase
	}
	if err == nil && len(headers) > maxRPMHeaders {
		err = fmt.Errorf("more than %d package headers", maxRPMHeaders)
	}
	return headers, err
}

// sqliteMagic starts every sqlite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// NDB layout constants (rpm lib/backend/ndb/rpmpkg.c).
const (
	ndbMagic          = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic      = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic      = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbHeaderSize     = 32
	ndbSlotSize       = 16
	ndbBlobHeaderSize = 16
	ndbPageSize       = 4096
	ndbMaxSlotPages   = 2048 // go-rpmdb's own limit
)

// ndbHeaders returns the blobs of an NDB Packages.db: every used slot's blob must
// lie inside the file, with its magic and package index.
func ndbHeaders(data []byte) ([][]byte, error) {
	if len(data) < ndbHeaderSize {
		return nil, fmt.Errorf("an NDB database of %d bytes is shorter than its header", len(data))
	}
	le := binary.LittleEndian
	version, pages := le.Uint32(data[4:]), le.Uint32(data[12:])
	if version != 0 || pages == 0 || pages > ndbMaxSlotPages {
		return nil, fmt.Errorf("NDB header has version %d and %d slot pages (want version 0, 1 to %d pages)", version, pages, ndbMaxSlotPages)
	}
	slotsEnd := int64(pages) * ndbPageSize
	size := int64(len(data))
	if slotsEnd > size {
		return nil, fmt.Errorf("NDB slot pages end at byte %d, past the file's %d", slotsEnd, size)
	}
	var blobs [][]byte
	for off := int64(ndbHeaderSize); off+ndbSlotSize <= slotsEnd; off += ndbSlotSize {
		slot := data[off:]
		if le.Uint32(slot) != ndbSlotMagic {
			return nil, fmt.Errorf("NDB slot at byte %d has no slot magic", off)
		}
		pkg, blk := le.Uint32(slot[4:]), int64(le.Uint32(slot[8:]))
		if pkg == 0 {
			continue
		}
		start := blk * ndbBlobHeaderSize
		if start < slotsEnd || start+ndbBlobHeaderSize > size {
			return nil, fmt.Errorf("NDB package %d starts at byte %d, outside the blob area", pkg, start)
		}
		blob := data[start:]
		if le.Uint32(blob) != ndbBlobMagic || le.Uint32(blob[4:]) != pkg {
			return nil, fmt.Errorf("NDB package %d has no blob header at byte %d", pkg, start)
		}
		n := int64(le.Uint32(blob[12:]))
		if start+ndbBlobHeaderSize+n > size {
			return nil, fmt.Errorf("NDB package %d claims %d bytes, past the end of the file", pkg, n)
		}
		blobs = append(blobs, blob[ndbBlobHeaderSize:ndbBlobHeaderSize+n])
	}
	return blobs, nil
}

// singlePackageNDB writes into buf (reused) an NDB database holding header alone,
// the form in which each header is handed to osv-scalibr's rpm extractor: one
// header per call, so a header it cannot parse costs that package only (and
// go-rpmdb, which stops reading its entry channel at the first bad header and
// leaves the goroutine feeding it blocked, finds no further entry to block on).
func singlePackageNDB(buf []byte, header []byte) []byte {
	le := binary.LittleEndian
	blobEnd := ndbPageSize + ndbBlobHeaderSize + len(header)
	size := (blobEnd + ndbBlobHeaderSize + ndbBlobHeaderSize - 1) / ndbBlobHeaderSize * ndbBlobHeaderSize // a 16-byte tail, aligned
	buf = append(buf[:0], make([]byte, size)...)
	le.PutUint32(buf, ndbMagic)
	le.PutUint32(buf[12:], 1) // one slot page
	for off := ndbHeaderSize; off < ndbPageSize; off += ndbSlotSize {
		le.PutUint32(buf[off:], ndbSlotMagic)
	}
	le.PutUint32(buf[ndbHeaderSize+4:], 1)                       // package 1
	le.PutUint32(buf[ndbHeaderSize+8:], ndbPageSize/ndbSlotSize) // its blob's block
	le.PutUint32(buf[ndbHeaderSize+12:], uint32((size-ndbPageSize)/ndbBlobHeaderSize))
	le.PutUint32(buf[ndbPageSize:], ndbBlobMagic)
	le.PutUint32(buf[ndbPageSize+4:], 1)
	le.PutUint32(buf[ndbPageSize+12:], uint32(len(header)))
	copy(buf[ndbPageSize+ndbBlobHeaderSize:], header)
	return buf
}
