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
	out := map[string][]OSVSeverity{}
	for _, rec := range gitRecords(t) {
		out[rec.ID] = rec.Severity
	}
	return out
}

// GITCommits reads the shared GIT export like GITSeverities and returns, by id, each
// record's database_specific.commit: the fkie-cad/nvd-json-data-feeds commit of the
// NVD JSON file the record was converted from.
func GITCommits(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, rec := range gitRecords(t) {
		out[rec.ID] = rec.DatabaseSpecific.Commit
	}
	return out
}

type gitRecord struct {
	ID               string
	Severity         []OSVSeverity
	DatabaseSpecific struct {
		Commit string `json:"commit"`
	} `json:"database_specific"`
}

func gitRecords(t testing.TB) []gitRecord {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join(Advisories(t), "GIT", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := make([]gitRecord, 0, len(zr.File))
	for _, f := range zr.File {
		body, err := readZipFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec gitRecord
		if err := json.Unmarshal(body, &rec); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out = append(out, rec)
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
