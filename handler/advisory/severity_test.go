package advisory_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestLoadReadsTheSeverityFolderAsSeverityDataOnly(t *testing.T) {
	dir := t.TempDir()
	testenv.WriteOSVExport(t, dir, "Debian", map[string]string{"DSA-1-1.json": record("DSA-1-1", "")})
	testenv.WriteOSVExport(t, dir, "GIT", map[string]string{
		"CVE-2024-1.json": `{"id":"CVE-2024-1","modified":"2030-01-01T00:00:00Z",
			"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:P/I:P/A:P"}],
			"affected":[{"package":{"ecosystem":"Debian:12","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`,
		"CVE-2024-2.json": `{"id":"CVE-2024-2","withdrawn":"2024-02-01T00:00:00Z","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],"affected":[]}`,
		"CVE-2024-3.json": `{"id":"CVE-2024-3","affected":[]}`,
	})
	without, err := advisory.Load(context.Background(), dir, []string{"Debian"})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := advisory.Load(context.Background(), dir, []string{"Debian"}, advisory.WithSeverityFolder("GIT"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a CVE record's vectors are found by its id", func(t *testing.T) {
		want := []advisory.Severity{
			{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
			{Type: "CVSS_V2", Score: "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
		}
		if diff := cmp.Diff(want, idx.SeverityOf("CVE-2024-1")); diff != "" {
			t.Errorf("SeverityOf(CVE-2024-1) (-want +got):\n%s", diff)
		}
	})
	t.Run("withdrawn and unscored records give nothing", func(t *testing.T) {
		if got := idx.SeverityOf("CVE-2024-2"); got != nil {
			t.Errorf("SeverityOf(withdrawn) = %v", got)
		}
		if got := idx.SeverityOf("CVE-2024-3"); got != nil {
			t.Errorf("SeverityOf(unscored) = %v", got)
		}
	})
	t.Run("its records are never matched as packages nor counted as records", func(t *testing.T) {
		if n := len(idx.Affected("Debian:12", "zlib")); n != len(without.Affected("Debian:12", "zlib")) {
			t.Errorf("zlib has %d entries with the severity folder, %d without", n, len(without.Affected("Debian:12", "zlib")))
		}
		if idx.Records("GIT") != 0 || !idx.Newest().Equal(without.Newest()) {
			t.Errorf("Records(GIT) = %d, Newest = %v; the severity folder is not advisory data", idx.Records("GIT"), idx.Newest())
		}
	})
	t.Run("the severity folder is part of the generation", func(t *testing.T) {
		if idx.Generation() == without.Generation() {
			t.Error("the same generation with and without the severity folder")
		}
	})
	t.Run("a source without the severity folder loads without it", func(t *testing.T) {
		other, err := advisory.Load(context.Background(), dir, []string{"Debian"}, advisory.WithSeverityFolder("NVD"))
		if err != nil {
			t.Fatal(err)
		}
		if other.SeverityOf("CVE-2024-1") != nil || other.Generation() != without.Generation() {
			t.Error("a missing severity folder added data")
		}
	})
	t.Run("a corrupt severity archive fails the load", func(t *testing.T) {
		bad := t.TempDir()
		testenv.WriteOSVExport(t, bad, "Debian", map[string]string{"DSA-1-1.json": record("DSA-1-1", "")})
		if err := os.MkdirAll(filepath.Join(bad, "GIT"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bad, "GIT", "all.zip"), []byte("not a zip"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := advisory.Load(context.Background(), bad, []string{"Debian"}, advisory.WithSeverityFolder("GIT"))
		if !errors.Is(err, advisory.ErrNoAdvisories) {
			t.Errorf("Load() error = %v, want ErrNoAdvisories", err)
		}
	})
	t.Run("a severity folder that is a path is refused", func(t *testing.T) {
		_, err := advisory.Load(context.Background(), dir, []string{"Debian"}, advisory.WithSeverityFolder("../GIT"))
		if !errors.Is(err, advisory.ErrUnsupportedEcosystem) {
			t.Errorf("Load() error = %v, want ErrUnsupportedEcosystem", err)
		}
	})
}

func TestLoadKeepsRelatedIDsAndDistributionRatings(t *testing.T) {
	dir := t.TempDir()
	testenv.WriteOSVExport(t, dir, "AlmaLinux", map[string]string{
		"ALSA-2024:1.json": `{"id":"ALSA-2024:1","related":["CVE-2024-1","CVE-2024-2","CVE-2024-1"],
			"database_specific":{"severity":"Important","other":{"nested":true}},
			"affected":[{"package":{"ecosystem":"AlmaLinux:9","name":"zap"},
				"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.1-1.el9"}]}],
				"ecosystem_specific":{"priority":"medium","urgency":["not","a","string"]},
				"database_specific":{"severity":"Moderate"}}]}`,
	})
	idx, err := advisory.Load(context.Background(), dir, []string{"AlmaLinux"})
	if err != nil {
		t.Fatal(err)
	}
	got := idx.Affected("AlmaLinux:9", "zap")
	if len(got) != 1 {
		t.Fatalf("%d entries for zap, want 1", len(got))
	}
	if diff := cmp.Diff([]string{"CVE-2024-1", "CVE-2024-2"}, got[0].Record.Related); diff != "" {
		t.Errorf("Related (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]advisory.Rating{{Kind: "severity", Value: "Important"}}, got[0].Record.Ratings); diff != "" {
		t.Errorf("record Ratings (-want +got):\n%s", diff)
	}
	want := []advisory.Rating{{Kind: "priority", Value: "medium"}, {Kind: "severity", Value: "Moderate"}}
	if diff := cmp.Diff(want, got[0].Ratings); diff != "" {
		t.Errorf("entry Ratings (-want +got):\n%s", diff)
	}
}
