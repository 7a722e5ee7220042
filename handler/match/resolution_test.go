package match_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// rpm is an AlmaLinux 9 package read from the rpm database.
func rpm(name, version string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, Type: "rpm", Ecosystem: "AlmaLinux:9",
		Location: "var/lib/rpm/rpmdb.sqlite", LayerIndex: 0, LayerDiffID: "sha256:" + name,
	}
}

// severityOf is what a finding says about its severity.
type severityOf struct {
	ID, Package, Severity string
	CVSS                  *match.CVSS
	Source                string
}

func TestSeverityResolvesInOrderOwnVectorLinkedCVEDistroRatingUnknown(t *testing.T) {
	idx := loadTestdataWithSeverity(t, "GIT", "Debian", "AlmaLinux")
	got := match.Match(idx, []inventory.Package{
		deb("libx1", "1.2-1", "libx", "1.2-1"),
		deb("bar-utils", "2.1-1", "bar", "2.1-1"),
		deb("qux", "1.5-1", "qux", "1.5-1"),
		rpm("zap", "1.0-1.el9"),
	})
	bySeverity := map[string]severityOf{}
	for _, f := range got.Findings {
		bySeverity[f.ID+" "+f.Package] = severityOf{f.ID, f.Package, f.Severity, f.CVSS, f.SeveritySource}
	}
	for _, tt := range []struct {
		name, key string
		want      severityOf
	}{
		{
			"a record's own vector wins over the severity folder's for its CVE", "CVE-2014-0160 libx1",
			severityOf{"CVE-2014-0160", "libx1", match.SeverityHigh,
				&match.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Score: 7.5}, "CVSS_V3 from DSA-5601-1"},
		},
		{
			"a record without a vector takes its CVE's highest vector from the severity folder", "CVE-2024-1100 bar-utils",
			severityOf{"CVE-2024-1100", "bar-utils", match.SeverityCritical,
				&match.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8}, "CVSS_V3 from CVE-2024-1100"},
		},
		{
			"an advisory naming CVEs only in related takes the highest of theirs, before its own rating", "ALSA-2024:0001 zap",
			severityOf{"ALSA-2024:0001", "zap", match.SeverityHigh,
				&match.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", Score: 8.8}, "CVSS_V3 from CVE-2024-8002"},
		},
		{
			"without any vector the RHEL-family severity applies", "ALSA-2024:0002 zap",
			severityOf{"ALSA-2024:0002", "zap", match.SeverityHigh, nil, "almalinux severity"},
		},
		{
			"without vector or rating the severity is unknown", "ALBA-2024:0003 zap",
			severityOf{"ALBA-2024:0003", "zap", match.SeverityUnknown, nil, ""},
		},
		{
			"a record without vector or rating, whose CVE the severity folder lacks, is unknown", "CVE-2024-1200 qux",
			severityOf{"CVE-2024-1200", "qux", match.SeverityUnknown, nil, ""},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, bySeverity[tt.key]); diff != "" {
				t.Errorf("finding %s (-want +got):\n%s", tt.key, diff)
			}
		})
	}
	t.Run("the severity folder's records are not matched as packages", func(t *testing.T) {
		for _, f := range got.Findings {
			if f.ID == "CVE-2024-8002" || f.ID == "CVE-2024-1100" && f.Package == "foo" {
				t.Errorf("finding %s on %s comes from the severity folder", f.ID, f.Package)
			}
		}
		without := loadTestdata(t, "Debian", "AlmaLinux")
		if n, want := len(idx.Affected("Debian:12", "foo")), len(without.Affected("Debian:12", "foo")); n != want || want == 0 {
			t.Errorf("foo has %d affected entries with the severity folder, %d without", n, want)
		}
	})
}

func TestSeverityWithoutTheSeverityFolderStaysUnknown(t *testing.T) {
	got := match.Match(loadTestdata(t, "Debian"), []inventory.Package{deb("bar-utils", "2.1-1", "bar", "2.1-1")})
	for _, f := range got.Findings {
		if f.ID == "CVE-2024-1100" && (f.Severity != match.SeverityUnknown || f.CVSS != nil || f.SeveritySource != "") {
			t.Errorf("CVE-2024-1100 = %s %+v %q without the severity folder; want UNKNOWN", f.Severity, f.CVSS, f.SeveritySource)
		}
	}
	if len(got.Findings) == 0 {
		t.Fatal("no findings for bar; the testdata changed")
	}
}
