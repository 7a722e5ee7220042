//go:build linux

package inventory

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestTheInMemorySQLiteVFSNeverTouchesHostFiles(t *testing.T) {
	vfsName, err := sqliteVFS()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(testenv.MarinerRPMDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("rpmdb.sqlite is read from memory, leaving nothing on the host", func(t *testing.T) {
		headers, err := sqliteHeaders(context.Background(), data)
		if err != nil || len(headers) != 129 {
			t.Fatalf("%d headers, %v; want the 129 packages SOURCES.md lists", len(headers), err)
		}
		if _, err := os.Lstat("/tidewatch-memory"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("/tidewatch-memory exists on the host (%v)", err)
		}
	})
	t.Run("a real database on the host is not opened through it", func(t *testing.T) {
		real := filepath.Join(t.TempDir(), "rpmdb.sqlite")
		if err := os.WriteFile(real, data, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", "file:"+real+"?vfs="+vfsName+"&mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow("SELECT count(*) FROM Packages").Scan(&n); err == nil {
			t.Errorf("read %d packages from the host file", n)
		}
	})
	t.Run("a registered database is no longer readable once revoked", func(t *testing.T) {
		copied := append([]byte(nil), data...)
		copied[18], copied[19] = 1, 1
		name, revoke := registerSQLite(copied)
		db, err := sql.Open("sqlite", "file:"+name+"?vfs="+vfsName+"&mode=ro&immutable=1")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow("SELECT count(*) FROM Packages").Scan(&n); err != nil || n != 129 {
			t.Fatalf("count = %d, %v before revoking", n, err)
		}
		revoke()
		db.SetMaxIdleConns(0) // a fresh connection after revoking
		if err := db.QueryRow("SELECT count(*) FROM Packages").Scan(&n); err == nil {
			t.Errorf("read %d packages after revoking", n)
		}
	})
}
