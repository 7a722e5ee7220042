//go:build linux

package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
	"modernc.org/sqlite/vfs"
)

// sqliteMemFS is the file system behind the sqlite VFS Tidewatch makes the
// process's default (go-rpmdb opens rpmdb.sqlite by plain path, so no URI can name
// another VFS): it serves only the in-memory databases registered with
// registerSQLite, read-only, and nothing else, so sqlite in this process never
// opens, creates or writes a host file.
type sqliteMemFS struct {
	mu  sync.Mutex
	dbs map[string]*sqliteMemDB
}

// sqliteMemDB is one registered database; revoking it drops data, so a reader
// go-rpmdb leaves behind after an error cannot keep the buffer alive.
type sqliteMemDB struct {
	data atomic.Pointer[[]byte]
}

var (
	sqliteFS      = &sqliteMemFS{dbs: map[string]*sqliteMemDB{}}
	sqliteVFSOnce sync.Once
	errSQLiteVFS  error
)

// installSQLiteVFS registers sqliteFS as a sqlite VFS and makes it the default.
func installSQLiteVFS() error {
	sqliteVFSOnce.Do(func() {
		name, _, err := vfs.New(sqliteFS)
		if err != nil {
			errSQLiteVFS = fmt.Errorf("registering the in-memory sqlite VFS: %w", err)
			return
		}
		tls := libc.NewTLS()
		defer tls.Close()
		cname, err := libc.CString(name)
		if err != nil {
			errSQLiteVFS = fmt.Errorf("registering the in-memory sqlite VFS: %w", err)
			return
		}
		defer libc.Xfree(tls, cname)
		p := sqlite3.Xsqlite3_vfs_find(tls, cname)
		if p == 0 {
			errSQLiteVFS = fmt.Errorf("in-memory sqlite VFS %s not found after registering it", name)
			return
		}
		if rc := sqlite3.Xsqlite3_vfs_register(tls, p, 1); rc != sqlite3.SQLITE_OK {
			errSQLiteVFS = fmt.Errorf("making the in-memory sqlite VFS the default: sqlite error %d", rc)
		}
	})
	return errSQLiteVFS
}

// registerSQLite makes data readable by sqlite under name until revoke is called.
func registerSQLite(name string, data []byte) (revoke func(), err error) {
	if err := installSQLiteVFS(); err != nil {
		return nil, err
	}
	db := &sqliteMemDB{}
	db.data.Store(&data)
	key := path.Clean(name)
	sqliteFS.mu.Lock()
	sqliteFS.dbs[key] = db
	sqliteFS.mu.Unlock()
	return func() {
		sqliteFS.mu.Lock()
		if sqliteFS.dbs[key] == db {
			delete(sqliteFS.dbs, key)
		}
		sqliteFS.mu.Unlock()
		db.data.Store(nil)
	}, nil
}

// Open opens a registered database; sqlite asks for full paths ("/proc/self/fd/7"),
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
