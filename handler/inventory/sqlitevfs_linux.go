//go:build linux

package inventory

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"
	"sync/atomic"
	"time"

	// The "sqlite" database/sql driver.
	_ "modernc.org/sqlite"
	"modernc.org/sqlite/vfs"
)

// sqliteMemFS is the file system behind the read-only sqlite VFS through which
// Tidewatch reads rpmdb.sqlite: it serves only the in-memory databases registered
// with registerSQLite, so reading one never opens, creates or writes a host file
// (sqlite's own unix VFS would create journal and WAL index files beside it).
type sqliteMemFS struct {
	mu   sync.Mutex
	dbs  map[string]*sqliteMemDB
	next int
}

// sqliteMemDB is one registered database; revoking it drops data, so nothing left
// open on it keeps the buffer alive.
type sqliteMemDB struct {
	data atomic.Pointer[[]byte]
}

var (
	sqliteFS      = &sqliteMemFS{dbs: map[string]*sqliteMemDB{}}
	sqliteVFSOnce sync.Once
	sqliteVFSName string
	errSQLiteVFS  error
)

// sqliteVFS registers sqliteFS as a sqlite VFS, once, and returns its name.
func sqliteVFS() (string, error) {
	sqliteVFSOnce.Do(func() {
		sqliteVFSName, _, errSQLiteVFS = vfs.New(sqliteFS)
		if errSQLiteVFS != nil {
			errSQLiteVFS = fmt.Errorf("registering the in-memory sqlite VFS: %w", errSQLiteVFS)
		}
	})
	return sqliteVFSName, errSQLiteVFS
}

// registerSQLite makes data readable through the VFS under a fresh name until
// revoke is called.
func registerSQLite(data []byte) (name string, revoke func()) {
	db := &sqliteMemDB{}
	db.data.Store(&data)
	sqliteFS.mu.Lock()
	sqliteFS.next++
	name = fmt.Sprintf("/tidewatch-memory/rpmdb-%d.sqlite", sqliteFS.next)
	sqliteFS.dbs[name] = db
	sqliteFS.mu.Unlock()
	return name, func() {
		sqliteFS.mu.Lock()
		delete(sqliteFS.dbs, name)
		sqliteFS.mu.Unlock()
		db.data.Store(nil)
	}
}

// sqliteHeaders returns the package headers of an rpmdb.sqlite (table Packages,
// column blob), read through the in-memory VFS. rpm keeps the database in WAL
// mode, and sqlite opens a WAL database only with a shared-memory index beside
// it, which this VFS does not give: the copy read is marked a rollback-journal
// database (file format bytes 18 and 19 set to 1). The layer holds the database
// file alone, so there is no WAL content to lose.
func sqliteHeaders(ctx context.Context, data []byte) ([][]byte, error) {
	if len(data) < 100 {
		return nil, fmt.Errorf("a sqlite database of %d bytes is shorter than its 100-byte header", len(data))
	}
	vfsName, err := sqliteVFS()
	if err != nil {
		return nil, err
	}
	copied := bytes.Clone(data)
	copied[18], copied[19] = 1, 1
	name, revoke := registerSQLite(copied)
	defer revoke()
	db, err := sql.Open("sqlite", "file:"+name+"?vfs="+vfsName+"&mode=ro&immutable=1")
	if err != nil {
		return nil, fmt.Errorf("opening rpmdb.sqlite: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT blob FROM Packages")
	if err != nil {
		return nil, fmt.Errorf("reading rpmdb.sqlite: %w", err)
	}
	defer rows.Close()
	var headers [][]byte
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return nil, fmt.Errorf("reading rpmdb.sqlite: %w", err)
		}
		if len(headers) == maxRPMHeaders {
			return nil, fmt.Errorf("more than %d package headers", maxRPMHeaders)
		}
		headers = append(headers, blob)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading rpmdb.sqlite: %w", err)
	}
	return headers, nil
}

// Open opens a registered database; sqlite asks for full paths ("/tidewatch-memory/rpmdb-1.sqlite"),
// which fs.ValidPath would refuse, so names are looked up as given, cleaned.
func (m *sqliteMemFS) Open(name string) (fs.File, error) {
	m.mu.Lock()
	db, ok := m.dbs[path.Clean(name)]
	m.mu.Unlock()
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &sqliteMemFile{name: name, db: db}, nil
}

// sqliteMemFile is an open registered database.
type sqliteMemFile struct {
	name string
	db   *sqliteMemDB
	off  int64
}

var errRevoked = errors.New("in-memory database no longer registered")

func (f *sqliteMemFile) bytes() ([]byte, error) {
	p := f.db.data.Load()
	if p == nil {
		return nil, errRevoked
	}
	return *p, nil
}

func (f *sqliteMemFile) Read(b []byte) (int, error) {
	data, err := f.bytes()
	if err != nil {
		return 0, err
	}
	r := bytes.NewReader(data)
	if _, err := r.Seek(f.off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := r.Read(b)
	f.off += int64(n)
	return n, err
}

func (f *sqliteMemFile) Seek(offset int64, whence int) (int64, error) {
	data, err := f.bytes()
	if err != nil {
		return 0, err
	}
	r := bytes.NewReader(data)
	if _, err := r.Seek(f.off, io.SeekStart); err != nil {
		return 0, err
	}
	f.off, err = r.Seek(offset, whence)
	return f.off, err
}

func (f *sqliteMemFile) Stat() (fs.FileInfo, error) {
	data, err := f.bytes()
	if err != nil {
		return nil, err
	}
	return sqliteMemInfo{name: path.Base(f.name), size: int64(len(data))}, nil
}

func (f *sqliteMemFile) Close() error { return nil }

// sqliteMemInfo describes a registered database.
type sqliteMemInfo struct {
	name string
	size int64
}

func (i sqliteMemInfo) Name() string       { return i.name }
func (i sqliteMemInfo) Size() int64        { return i.size }
func (i sqliteMemInfo) Mode() fs.FileMode  { return 0o444 }
func (i sqliteMemInfo) ModTime() time.Time { return time.Time{} }
func (i sqliteMemInfo) IsDir() bool        { return false }
func (i sqliteMemInfo) Sys() any           { return nil }
