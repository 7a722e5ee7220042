package pipeline

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

func TestARescanWritesFindingsBeforeTheImagesRowAndCountsOnlyActiveOnes(t *testing.T) {
	m := newMemStore()
	earlier := testNow.Add(-25 * time.Hour)
	for _, f := range []store.Finding{
		{VulnerabilityID: "CVE-1", Package: "openssl", Ecosystem: "Debian:12", Severity: "HIGH"},
		{VulnerabilityID: "CVE-2", Package: "zlib", Ecosystem: "Debian:12", Severity: "LOW"},
	} {
		f.Registry, f.Repository, f.Digest, f.State, f.FirstSeenAt, f.LastSeenAt = testRegistry, testRepo, digestA, "active", earlier, earlier
		m.findings[key(testRegistry, testRepo, digestA, f.RowKey())] = f
	}
	p := unitPipeline(t, m, fakeRegistry{})
	task := store.ScanTask{Registry: testRegistry, Repository: testRepo, Digest: digestA, Tags: []string{"1"}, Reason: "rescan", RunID: "run-1"}
	res := &scanner.Result{Platforms: []scanner.PlatformResult{{
		Platform: "linux/amd64", Digest: digestA, Status: "scanned", Packages: map[string]int{"Debian:12": 90, "Go": 3},
		Findings: []match.Finding{
			{ID: "CVE-1", Package: "openssl", Ecosystem: "Debian:12", Severity: "HIGH", FixStatus: match.FixStatusFixed},
			{ID: "CVE-3", Package: "stdlib", Ecosystem: "Go", Severity: "CRITICAL", Location: "app/server"},
		},
	}}}
	act := store.Activity{LastPushedAt: earlier}

	if err := p.writePlatform(context.Background(), task, res, res.Platforms[0], act, "gen-2", testNow); err != nil {
		t.Fatal(err)
	}

	row := m.images[key(testRegistry, testRepo, digestA)]
	// CVE-1 (high, fixable) and CVE-3 (critical) are in the result; CVE-2 is gone.
	if diff := cmp.Diff(store.Counts{Critical: 1, High: 1, FixableCount: 1}, row.Counts); diff != "" {
		t.Errorf("images row counts (-want +got):\n%s", diff)
	}
	states := map[string]string{}
	for _, f := range m.findings {
		states[f.VulnerabilityID] = f.State + " " + f.ResolvedReason
	}
	if diff := cmp.Diff(map[string]string{"CVE-1": "active ", "CVE-2": "resolved rescan", "CVE-3": "active "}, states); diff != "" {
		t.Errorf("finding states (-want +got):\n%s", diff)
	}
	if row.Status != "scanned" || row.Generation != "gen-2" || !row.PushedAt.Equal(earlier) || row.Packages != "Debian:12 90, Go 3" {
		t.Errorf("images row = status %q generation %q pushed %v packages %q", row.Status, row.Generation, row.PushedAt, row.Packages)
	}
	calls := m.callsMatching("")
	last := slices.Index(calls, "PutImage "+digestA)
	for i, c := range calls {
		if c != "PutImage "+digestA && i > last {
			t.Errorf("%q was written after the images row; calls %q", c, calls)
		}
	}
}

func TestASuccessfulScanOfAnIndexDeletesTheFailureRowItsDigestLeft(t *testing.T) {
	tests := []struct {
		name      string
		platforms []string
		wantRows  []string
	}{
		{name: "an index whose platforms have their own rows loses its failure row",
			platforms: []string{digestB, digestC}, wantRows: []string{digestB, digestC}},
		{name: "a single-platform image keeps its row, which is its result",
			platforms: []string{digestA}, wantRows: []string{digestA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			m.images[key(testRegistry, testRepo, digestA)] = store.Image{Registry: testRegistry, Repository: testRepo,
				Digest: digestA, Status: "failed", LastError: "registry down"}
			res := &scanner.Result{IndexDigest: digestA}
			for _, d := range tt.platforms {
				if d != digestA {
					m.images[key(testRegistry, testRepo, d)] = store.Image{Registry: testRegistry, Repository: testRepo,
						Digest: d, IndexDigest: digestA, Status: "scanned", LastScannedAt: testNow}
				}
				res.Platforms = append(res.Platforms, scanner.PlatformResult{Digest: d, Status: "scanned"})
			}
			p := unitPipeline(t, m, fakeRegistry{})
			task := store.ScanTask{Registry: testRegistry, Repository: testRepo, Digest: digestA, Reason: "push", RunID: "run-1"}

			if err := p.resolveReplaced(context.Background(), discardLog(), task, res, testNow); err != nil {
				t.Fatal(err)
			}

			var rows []string
			for _, img := range m.images {
				rows = append(rows, img.Digest)
			}
			slices.Sort(rows)
			if diff := cmp.Diff(tt.wantRows, rows); diff != "" {
				t.Errorf("images rows (-want +got):\n%s", diff)
			}
		})
	}
}
