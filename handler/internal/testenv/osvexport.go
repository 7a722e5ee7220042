package testenv

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// osvRecord is an OSV record as the oracles read it.
type osvRecord struct {
	ID        string   `json:"id"`
	Withdrawn string   `json:"withdrawn"`
	Aliases   []string `json:"aliases"`
	Upstream  []string `json:"upstream"`
	Affected  []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
		Versions []string `json:"versions"`
	} `json:"affected"`
}

// osvExport is one ecosystem's OSV all.zip as the oracles read it, with archive/zip
// and encoding/json only.
type osvExport struct {
	// ids holds the id of every record, withdrawn ones included.
	ids map[string]bool
	// byPackage holds the records in force by each package of the ecosystem they name.
	byPackage map[string][]*osvRecord
}

// readOSVExport reads the all.zip at path, indexing the records in force by the
// packages of ecosystem ("Debian:12", "Go") their affected entries name.
func readOSVExport(path, ecosystem string) (*osvExport, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	x := &osvExport{ids: make(map[string]bool), byPackage: make(map[string][]*osvRecord)}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("opening %s in %s: %w", f.Name, path, err)
		}
		rec := new(osvRecord)
		err = json.NewDecoder(rc).Decode(rec)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("decoding %s in %s: %w", f.Name, path, err)
		}
		x.ids[rec.ID] = true
		if rec.Withdrawn != "" {
			continue
		}
		seen := make(map[string]bool)
		for _, a := range rec.Affected {
			if a.Package.Ecosystem == ecosystem && !seen[a.Package.Name] {
				seen[a.Package.Name] = true
				x.byPackage[a.Package.Name] = append(x.byPackage[a.Package.Name], rec)
			}
		}
	}
	return x, nil
}

// loadOSVExport reads <Advisories>/<dir>/all.zip for ecosystem; an unreadable export,
// or one in which no record in force names a package of ecosystem, fails the test.
func loadOSVExport(t testing.TB, dir, ecosystem string) *osvExport {
	t.Helper()
	path := filepath.Join(Advisories(t), dir, "all.zip")
	x, err := readOSVExport(path, ecosystem)
	if err != nil {
		t.Fatalf("reading the %s OSV export: %v", dir, err)
	}
	if len(x.byPackage) == 0 {
		t.Fatalf("the %s OSV export %s holds no record for %s", dir, path, ecosystem)
	}
	return x
}

// WriteOSVExport writes dir/<ecosystem>/all.zip, an OSV bulk export holding members
// (file name → body, written in name order), for tests that load advisories from a
// directory.
func WriteOSVExport(t testing.TB, dir, ecosystem string, members map[string]string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, ecosystem), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, ecosystem, "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, name := range slices.Sorted(maps.Keys(members)) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(members[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
