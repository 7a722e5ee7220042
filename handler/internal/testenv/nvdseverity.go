package testenv

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"testing"
)

// OSVSeverity is one entry of an OSV record's severity list: Type is "CVSS_V3",
// "CVSS_V4" and the like, Score the vector.
type OSVSeverity struct{ Type, Score string }

// GITSeverities reads the shared GIT export (the NVD's CVE records) with archive/zip
// and encoding/json only: the severity entries of every record, by id. A record
// without any is present with none.
func GITSeverities(t testing.TB) map[string][]OSVSeverity {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join(Advisories(t), "GIT", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string][]OSVSeverity{}
	for _, f := range zr.File {
		body, err := readZipFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			ID       string
			Severity []OSVSeverity
		}
		if err := json.Unmarshal(body, &rec); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out[rec.ID] = rec.Severity
	}
	return out
}

func readZipFile(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", f.Name, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
