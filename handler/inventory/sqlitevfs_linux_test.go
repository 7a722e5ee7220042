//go:build linux

package inventory

import (
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestSQLiteInThisProcessNeverTouchesHostFiles(t *testing.T) {
	if err := installSQLiteVFS(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "rpmdb.sqlite")
	data, err := os.ReadFile(testenv.MarinerRPMDB(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("a database that does not exist is not created", func(t *testing.T) {
		p := filepath.Join(dir, "new.db")
		db, err := sql.Open("sqlite", p)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE x (a)"); err == nil {
			t.Error("creating a table in a new host database succeeded")
		}
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after the attempt (%v)", p, err)
		}
	})
	t.Run("a real database on the host is not read", func(t *testing.T) {
		db, err := sql.Open("sqlite", real)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow("SELECT count(*) FROM Packages").Scan(&n); err == nil {
			t.Errorf("read %d packages from the host file", n)
		}
	})
	t.Run("a registered in-memory copy is read, and no longer once revoked", func(t *testing.T) {
		prepared, err := prepareSQLite(data)
		if err != nil {
			t.Fatal(err)
		}
		revoke, err := registerSQLite("/proc/self/fd/tidewatch-test", prepared)
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", "/proc/self/fd/tidewatch-test")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow("SELECT count(*) FROM Packages").Scan(&n); err != nil || n != 129 {
			t.Errorf("count = %d, %v; want the 129 packages SOURCES.md lists", n, err)
		}
		db.Close()
		revoke()
		again, err := sql.Open("sqlite", "/proc/self/fd/tidewatch-test")
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		if err := again.QueryRow("SELECT count(*) FROM Packages").Scan(&n); err == nil {
			t.Errorf("read %d packages after revoking", n)
		}
	})
}
