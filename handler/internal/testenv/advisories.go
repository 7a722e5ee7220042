package testenv

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// AdvisoryTime is when the OSV advisories in dir were retrieved, as Tidewatch judges
// it for a local directory: the oldest modification time of its <Ecosystem>/all.zip
// files. Tests base their injected clock on it, so fixtures kept for days never look
// stale and a test can still move the clock past TIDEWATCH_MAX_DB_AGE.
func AdvisoryTime(t testing.TB, dir string) time.Time {
	t.Helper()
	zips, err := filepath.Glob(filepath.Join(dir, "*", "all.zip"))
	if err != nil || len(zips) == 0 {
		t.Fatalf("no <Ecosystem>/all.zip under %s (%v)", dir, err)
	}
	var oldest time.Time
	for _, z := range zips {
		info, err := os.Stat(z)
		if err != nil {
			t.Fatal(err)
		}
		if oldest.IsZero() || info.ModTime().Before(oldest) {
			oldest = info.ModTime()
		}
	}
	return oldest.UTC()
}
