package advisory_test

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// modifiedIDs reads an OSV modified_id.csv: record count and newest modified time.
func modifiedIDs(t *testing.T, path string) (int, time.Time) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		n      int
		newest time.Time
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		stamp, _, ok := strings.Cut(sc.Text(), ",")
		if !ok {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		n++
		if ts.After(newest) {
			newest = ts
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n, newest
}

func TestLoadReadsTheSharedDebianExport(t *testing.T) {
	dir := testenv.Advisories(t)
	idx, err := advisory.Load(context.Background(), dir, []string{"Debian"})
	if err != nil {
		t.Fatal(err)
	}
	wantRecords, wantNewest := modifiedIDs(t, filepath.Join(dir, "Debian", "modified_id.csv"))

	t.Run("every record listed in modified_id.csv is loaded", func(t *testing.T) {
		if got := idx.Records("Debian"); got != wantRecords {
			t.Errorf("Records(Debian) = %d, want %d", got, wantRecords)
		}
	})
	t.Run("newest modified matches modified_id.csv", func(t *testing.T) {
		if !idx.Newest().Equal(wantNewest) {
			t.Errorf("Newest() = %v, want %v", idx.Newest(), wantNewest)
		}
	})
	t.Run("the index covers Debian:12 and nothing unrequested", func(t *testing.T) {
		if !idx.Covers("Debian:12") {
			t.Error("Covers(Debian:12) = false")
		}
		if idx.Covers("Debian:11") || idx.Covers("Go") {
			t.Error("index covers an ecosystem it has no records for")
		}
		if diff := cmp.Diff([]string{"Debian"}, idx.Ecosystems()); diff != "" {
			t.Errorf("Ecosystems() (-want +got):\n%s", diff)
		}
	})
	t.Run("a known record is decoded with its range and aliases", func(t *testing.T) {
		var found *advisory.Affected
		for _, a := range idx.Affected("Debian:12", "openssl") {
			if a.Record.ID == "DEBIAN-CVE-2024-0727" {
				found = a
			}
		}
		if found == nil {
			t.Fatal("DEBIAN-CVE-2024-0727 not indexed under Debian:12/openssl")
		}
		want := []advisory.Range{{Type: "ECOSYSTEM", Events: []advisory.Event{{Kind: advisory.EventIntroduced, Version: "0"}, {Kind: advisory.EventFixed, Version: "3.0.13-1~deb12u1"}}}}
		if diff := cmp.Diff(want, found.Ranges); diff != "" {
			t.Errorf("ranges (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"CVE-2024-0727"}, found.Record.Aliases); diff != "" {
			t.Errorf("aliases (-want +got):\n%s", diff)
		}
		if found.Urgency != "" || len(found.Ratings) != 0 || len(found.Record.Ratings) != 0 {
			t.Errorf("Urgency = %q, Ratings = %v, %v; changelog_urgency must not be read as a per-CVE rating",
				found.Urgency, found.Ratings, found.Record.Ratings)
		}
	})
	t.Run("loading the same data twice gives the same generation", func(t *testing.T) {
		again, err := advisory.Load(context.Background(), dir, []string{"Debian", "Debian"})
		if err != nil {
			t.Fatal(err)
		}
		if again.Generation() != idx.Generation() || idx.Generation() == "" {
			t.Errorf("generations %q and %q differ or are empty", idx.Generation(), again.Generation())
		}
	})
}

const recordTemplate = `{"id":"ID","modified":"2024-01-02T03:04:05Z",WITHDRAWN"aliases":["CVE-2024-1"],"upstream":["CVE-2024-1","CVE-2024-2"],
"summary":"s","details":"ignored","affected":[{"package":{"ecosystem":"Debian:12","name":"zlib"},
"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"1.2"}]}],"versions":["1.1"],
"ecosystem_specific":{"urgency":"unimportant","other":[1,2]},"database_specific":{"changelog_urgency":"high"}}]}`

func record(id, withdrawn string) string {
	r := strings.ReplaceAll(recordTemplate, `"ID"`, `"`+id+`"`)
	if withdrawn != "" {
		withdrawn = `"withdrawn":"` + withdrawn + `",`
	}
	return strings.ReplaceAll(r, "WITHDRAWN", withdrawn)
}

func TestLoadDecodesRecords(t *testing.T) {
	dir := t.TempDir()
	testenv.WriteOSVExport(t, dir, "Debian", map[string]string{
		"DSA-1-1.json":  record("DSA-1-1", ""),
		"DSA-2-1.json":  record("DSA-2-1", "2024-02-01T00:00:00Z"),
		"README.txt":    "not a record",
		"nested/":       "",
		"DSA-3-1.json ": record("DSA-3-1", ""),
	})
	idx, err := advisory.Load(context.Background(), dir, []string{"Debian"})
	if err != nil {
		t.Fatal(err)
	}
	got := idx.Affected("Debian:12", "zlib")
	if len(got) != 1 {
		t.Fatalf("got %d entries for zlib, want 1 (withdrawn and non-JSON members skipped)", len(got))
	}
	want := &advisory.Affected{
		Record: &advisory.Record{
			ID:       "DSA-1-1",
			Aliases:  []string{"CVE-2024-1", "CVE-2024-2"},
			Summary:  "s",
			Modified: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		},
		Ecosystem: "Debian:12",
		Package:   "zlib",
		Ranges:    []advisory.Range{{Type: "ECOSYSTEM", Events: []advisory.Event{{Kind: advisory.EventIntroduced, Version: "0"}, {Kind: advisory.EventLastAffected, Version: "1.2"}}}},
		Versions:  []string{"1.1"},
		Urgency:   "unimportant",
		Ratings:   []advisory.Rating{{Kind: "urgency", Value: "unimportant"}},
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
	if idx.Records("Debian") != 1 {
		t.Errorf("Records(Debian) = %d, want 1", idx.Records("Debian"))
	}
}

func TestLoadGenerationFollowsTheData(t *testing.T) {
	dir := t.TempDir()
	testenv.WriteOSVExport(t, dir, "Debian", map[string]string{"DSA-1-1.json": record("DSA-1-1", "")})
	first, err := advisory.Load(context.Background(), dir, []string{"Debian"})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteOSVExport(t, dir, "Debian", map[string]string{"DSA-1-1.json": record("DSA-1-1", ""), "DSA-4-1.json": record("DSA-4-1", "")})
	second, err := advisory.Load(context.Background(), dir, []string{"Debian"})
	if err != nil {
		t.Fatal(err)
	}
	if first.Generation() == second.Generation() {
		t.Errorf("generation %q did not change when the archive changed", first.Generation())
	}
}

func TestLoadRefusesUnusableSources(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, dir string) string
		ecosystems []string
		want       error
	}{
		{
			name:  "a missing directory is no advisories",
			setup: func(t *testing.T, dir string) string { return filepath.Join(dir, "absent") },
			want:  advisory.ErrNoAdvisories,
		},
		{
			name:  "an empty directory is no advisories",
			setup: func(t *testing.T, dir string) string { return dir },
			want:  advisory.ErrNoAdvisories,
		},
		{
			name: "an ecosystem directory without all.zip is no advisories",
			setup: func(t *testing.T, dir string) string {
				if err := os.Mkdir(filepath.Join(dir, "Debian"), 0o755); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: advisory.ErrNoAdvisories,
		},
		{
			name: "a corrupt zip is no advisories",
			setup: func(t *testing.T, dir string) string {
				if err := os.Mkdir(filepath.Join(dir, "Debian"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "Debian", "all.zip"), []byte("PK\x03\x04 this is not a zip"), 0o644); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: advisory.ErrNoAdvisories,
		},
		{
			name: "a zip with zero records is no advisories",
			setup: func(t *testing.T, dir string) string {
				testenv.WriteOSVExport(t, dir, "Debian", map[string]string{})
				return dir
			},
			want: advisory.ErrNoAdvisories,
		},
		{
			name: "a zip holding only withdrawn records is no advisories",
			setup: func(t *testing.T, dir string) string {
				testenv.WriteOSVExport(t, dir, "Debian", map[string]string{"DSA-2-1.json": record("DSA-2-1", "2024-02-01T00:00:00Z")})
				return dir
			},
			want: advisory.ErrNoAdvisories,
		},
		{
			name: "a record that is not JSON is no advisories",
			setup: func(t *testing.T, dir string) string {
				testenv.WriteOSVExport(t, dir, "Debian", map[string]string{"DSA-1-1.json": record("DSA-1-1", ""), "DSA-9-1.json": "{"})
				return dir
			},
			want: advisory.ErrNoAdvisories,
		},
		{
			name: "one missing ecosystem among present ones is no advisories",
			setup: func(t *testing.T, dir string) string {
				testenv.WriteOSVExport(t, dir, "Debian", map[string]string{"DSA-1-1.json": record("DSA-1-1", "")})
				return dir
			},
			ecosystems: []string{"Debian", "Alpine"},
			want:       advisory.ErrNoAdvisories,
		},
		{
			name:       "no requested ecosystem is no advisories",
			setup:      func(t *testing.T, dir string) string { return dir },
			ecosystems: []string{},
			want:       advisory.ErrNoAdvisories,
		},
		{
			name:       "an unknown ecosystem directory is unsupported",
			setup:      func(t *testing.T, dir string) string { return dir },
			ecosystems: []string{"Plan9Packages"},
			want:       advisory.ErrUnsupportedEcosystem,
		},
		{
			name:       "a path in an ecosystem name is unsupported",
			setup:      func(t *testing.T, dir string) string { return dir },
			ecosystems: []string{"../Debian"},
			want:       advisory.ErrUnsupportedEcosystem,
		},
		{
			name:  "a URL source is not supported yet",
			setup: func(t *testing.T, dir string) string { return "https://osv-vulnerabilities.storage.googleapis.com" },
			want:  advisory.ErrUnsupportedSource,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source := tt.setup(t, t.TempDir())
			ecosystems := tt.ecosystems
			if ecosystems == nil {
				ecosystems = []string{"Debian"}
			}
			idx, err := advisory.Load(context.Background(), source, ecosystems)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Load() error = %v, want %v", err, tt.want)
			}
			if idx != nil {
				t.Errorf("Load() returned an index along with error %v", err)
			}
		})
	}
}

func TestLoadStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := advisory.Load(ctx, testenv.Advisories(t), []string{"Debian"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Load() error = %v, want context.Canceled", err)
	}
}

func TestLoadReadsEverySharedEcosystemTheCLIDefaultsCanName(t *testing.T) {
	dirs := []string{"Debian", "Go", "npm", "PyPI", "Alpine", "AlmaLinux"}
	idx, err := advisory.Load(context.Background(), testenv.Advisories(t), dirs)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		t.Run(dir+" loads every record its modified_id.csv lists that is not withdrawn", func(t *testing.T) {
			listed, _ := modifiedIDs(t, filepath.Join(testenv.Advisories(t), dir, "modified_id.csv"))
			want := listed - withdrawnRecords(t, filepath.Join(testenv.Advisories(t), dir, "all.zip"))
			if got := idx.Records(dir); got != want || want == 0 {
				t.Errorf("Records(%s) = %d, want %d", dir, got, want)
			}
		})
	}
	for _, eco := range []string{"Debian:12", "Go", "npm", "PyPI", "Alpine:v3.4", "AlmaLinux:9"} {
		t.Run("the index covers "+eco, func(t *testing.T) {
			if !idx.Covers(eco) {
				t.Errorf("Covers(%s) = false", eco)
			}
		})
	}
}

// withdrawnRecords counts the members of an OSV all.zip that carry "withdrawn".
func withdrawnRecords(t *testing.T, path string) int {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	n := 0
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Withdrawn string `json:"withdrawn"`
		}
		err = json.NewDecoder(rc).Decode(&rec)
		rc.Close()
		if err != nil {
			t.Fatalf("%s in %s: %v", f.Name, path, err)
		}
		if rec.Withdrawn != "" {
			n++
		}
	}
	return n
}
