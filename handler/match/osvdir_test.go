package match_test

import (
	"archive/zip"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidewatch/tidewatch/handler/advisory"
)

// loadTestdata zips testdata/osv/<Ecosystem>/*.json into an OSV bulk-export layout
// in a temporary directory and loads it.
func loadTestdata(t testing.TB, ecosystems ...string) *advisory.Index {
	t.Helper()
	idx, err := advisory.Load(context.Background(), zipTestdata(t, ecosystems...), ecosystems)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// loadTestdataWithSeverity is loadTestdata that also loads testdata/osv/<severity>
// as the severity folder.
func loadTestdataWithSeverity(t testing.TB, severity string, ecosystems ...string) *advisory.Index {
	t.Helper()
	dir := zipTestdata(t, append([]string{severity}, ecosystems...)...)
	idx, err := advisory.Load(context.Background(), dir, ecosystems, advisory.WithSeverityFolder(severity))
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// zipTestdata writes testdata/osv/<folder>/*.json as <folder>/all.zip for each
// folder in a temporary directory and returns it.
func zipTestdata(t testing.TB, folders ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, eco := range folders {
		files, err := filepath.Glob(filepath.Join("testdata", "osv", eco, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no testdata records for %s: %v", eco, err)
		}
		if err := os.Mkdir(filepath.Join(dir, eco), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, eco, "all.zip"))
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(out)
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			w, err := zw.Create(filepath.Base(f))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(body); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
