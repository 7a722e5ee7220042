package match_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// deb is a Debian 12 binary package read from the dpkg status.
func deb(name, version, source, sourceVersion string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, SourceName: source, SourceVersion: sourceVersion,
		Type: "deb", Ecosystem: "Debian:12", Location: "var/lib/dpkg/status",
		LayerIndex: 1, LayerDiffID: "sha256:" + name,
	}
}

// ubuntu is deb for Ubuntu 22.04 LTS.
func ubuntu(name, version, source, sourceVersion string) inventory.Package {
	p := deb(name, version, source, sourceVersion)
	p.Ecosystem = "Ubuntu:22.04:LTS"
	return p
}

func TestMatchSyntheticDebianRecords(t *testing.T) {
	idx := loadTestdata(t, "Debian", "Ubuntu")
	pkgs := []inventory.Package{
		deb("foo", "1.0-2", "foo", "1.0-2"),
		deb("bar-utils", "2.1-1", "bar", "2.1-1"),
		deb("libbar2", "2.1-1+b1", "bar", "2.1-1"),
		deb("qux", "1.5-1", "qux", "1.5-1"),
		deb("libx1", "1.2-1", "libx", "1.2-1"),
		deb("libx-bin", "1.2-1", "libx", "1.2-1"),
		// Named like a source with records, but built from another source.
		deb("libx", "0.1-1", "libx-compat", "0.1-1"),
	}
	got := match.Match(idx, pkgs)
	layer := func(name string) match.Layer { return match.Layer{DiffID: "sha256:" + name, Index: 1} }
	log4shell := &match.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Score: 10}
	// DEBIAN-CVE-2024-6000's vector; 9.3 is the first.org v4.0 calculator's score for it.
	v4 := &match.CVSS{Version: "4.0", Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", Score: 9.3}
	heartbleed := &match.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Score: 7.5}
	libx := func(id, pkg, fixed, sev string, cvss *match.CVSS, from, summary string, aliases ...string) match.Finding {
		return match.Finding{
			ID: id, Aliases: aliases, Package: pkg, SourcePackage: "libx", Ecosystem: "Debian:12",
			InstalledVersion: "1.2-1", FixedVersion: fixed, FixStatus: match.FixStatusFixed,
			Severity: sev, CVSS: cvss, SeveritySource: from, Layer: layer(pkg), Location: "var/lib/dpkg/status", Summary: summary,
			Remediation: "upgrade source libx to " + fixed + " (installed: libx-bin, libx1)",
		}
	}
	want := []match.Finding{
		libx("CVE-2014-0160", "libx-bin", "1.2-1+deb12u3", match.SeverityHigh, heartbleed, "CVSS_V3 from DSA-5601-1", "libx: two vulnerabilities", "DSA-5601-1"),
		libx("CVE-2014-0160", "libx1", "1.2-1+deb12u3", match.SeverityHigh, heartbleed, "CVSS_V3 from DSA-5601-1", "libx: two vulnerabilities", "DSA-5601-1"),
		libx("CVE-2021-44228", "libx-bin", "1.2-1+deb12u2", match.SeverityCritical, log4shell, "CVSS_V3 from DSA-5600-1", "libx: remote code execution", "DEBIAN-CVE-2021-44228", "DSA-5600-1"),
		libx("CVE-2021-44228", "libx1", "1.2-1+deb12u2", match.SeverityCritical, log4shell, "CVSS_V3 from DSA-5600-1", "libx: remote code execution", "DEBIAN-CVE-2021-44228", "DSA-5600-1"),
		{
			ID: "CVE-2024-1000", Aliases: []string{"DEBIAN-CVE-2024-1000"}, Package: "foo", SourcePackage: "foo",
			Ecosystem: "Debian:12", InstalledVersion: "1.0-2", FixStatus: match.FixStatusNotFixed,
			Severity: match.SeverityLow, Layer: layer("foo"), Location: "var/lib/dpkg/status", Summary: "foo: unfixed flaw",
			SeveritySource: "debian urgency",
			Remediation:    "no fix available for foo yet",
		},
		{
			ID: "CVE-2024-1002", Aliases: []string{"DEBIAN-CVE-2024-1002"}, Package: "foo", SourcePackage: "foo",
			Ecosystem: "Debian:12", InstalledVersion: "1.0-2", FixStatus: match.FixStatusNotFixed,
			Severity: match.SeverityMedium, Layer: layer("foo"), Location: "var/lib/dpkg/status", Summary: "foo: last_affected equal to the installed version",
			SeveritySource: "debian urgency",
			Remediation:    "no fix available for foo yet",
		},
		{
			ID: "CVE-2024-1100", Aliases: []string{"DEBIAN-CVE-2024-1100"}, Package: "bar-utils", SourcePackage: "bar",
			Ecosystem: "Debian:12", InstalledVersion: "2.1-1", FixedVersion: "2.3-1", FixStatus: match.FixStatusFixed,
			Severity: match.SeverityUnknown, Layer: layer("bar-utils"), Location: "var/lib/dpkg/status", Summary: "bar: two ranges, listed out of order",
			Remediation: "upgrade source bar to 2.3-1 (installed: bar-utils, libbar2)",
		},
		{
			ID: "CVE-2024-1100", Aliases: []string{"DEBIAN-CVE-2024-1100"}, Package: "libbar2", SourcePackage: "bar",
			Ecosystem: "Debian:12", InstalledVersion: "2.1-1+b1", FixedVersion: "2.3-1", FixStatus: match.FixStatusFixed,
			Severity: match.SeverityUnknown, Layer: layer("libbar2"), Location: "var/lib/dpkg/status", Summary: "bar: two ranges, listed out of order",
			Remediation: "upgrade source bar to 2.3-1 (installed: bar-utils, libbar2)",
		},
		{
			ID: "CVE-2024-1200", Aliases: []string{"DEBIAN-CVE-2024-1200"}, Package: "qux", SourcePackage: "qux",
			Ecosystem: "Debian:12", InstalledVersion: "1.5-1", FixStatus: match.FixStatusNotFixed,
			Severity: match.SeverityUnknown, Layer: layer("qux"), Location: "var/lib/dpkg/status", Summary: "qux: explicit versions list only",
			Remediation: "no fix available for qux yet",
		},
		{
			ID: "CVE-2024-3000", Aliases: []string{"DEBIAN-CVE-2024-3000"}, Package: "foo", SourcePackage: "foo",
			Ecosystem: "Debian:12", InstalledVersion: "1.0-2", FixStatus: match.FixStatusWontFix,
			Severity: match.SeverityLow, Layer: layer("foo"), Location: "var/lib/dpkg/status", Summary: "foo: the tracker calls it unimportant",
			SeveritySource: "debian urgency",
			Remediation:    "no fix planned for foo: the distribution will not fix it in this release",
		},
		libx("CVE-2024-3094", "libx-bin", "1.2-1+deb12u3", match.SeverityHigh, heartbleed, "CVSS_V3 from DSA-5601-1", "libx: two vulnerabilities", "DSA-5601-1"),
		libx("CVE-2024-3094", "libx1", "1.2-1+deb12u3", match.SeverityHigh, heartbleed, "CVSS_V3 from DSA-5601-1", "libx: two vulnerabilities", "DSA-5601-1"),
		{
			ID: "CVE-2024-6000", Aliases: []string{"DEBIAN-CVE-2024-6000"}, Package: "bar-utils", SourcePackage: "bar",
			Ecosystem: "Debian:12", InstalledVersion: "2.1-1", FixedVersion: "2.1-1+deb12u1", FixStatus: match.FixStatusFixed,
			Severity: match.SeverityCritical, CVSS: v4, SeveritySource: "CVSS_V4 from DEBIAN-CVE-2024-6000",
			Layer: layer("bar-utils"), Location: "var/lib/dpkg/status", Summary: "bar: CVSS v4 vector only",
			Remediation: "upgrade source bar to 2.1-1+deb12u1 (installed: bar-utils, libbar2)",
		},
		{
			ID: "CVE-2024-6000", Aliases: []string{"DEBIAN-CVE-2024-6000"}, Package: "libbar2", SourcePackage: "bar",
			Ecosystem: "Debian:12", InstalledVersion: "2.1-1+b1", FixedVersion: "2.1-1+deb12u1", FixStatus: match.FixStatusFixed,
			Severity: match.SeverityCritical, CVSS: v4, SeveritySource: "CVSS_V4 from DEBIAN-CVE-2024-6000",
			Layer: layer("libbar2"), Location: "var/lib/dpkg/status", Summary: "bar: CVSS v4 vector only",
			Remediation: "upgrade source bar to 2.1-1+deb12u1 (installed: bar-utils, libbar2)",
		},
	}
	if diff := cmp.Diff(match.Result{Findings: want, MatchedPackages: len(pkgs)}, got); diff != "" {
		t.Errorf("Match() (-want +got):\n%s", diff)
	}
}

func TestMatchUbuntuStyleEcosystem(t *testing.T) {
	idx := loadTestdata(t, "Debian", "Ubuntu")
	got := match.Match(idx, []inventory.Package{
		ubuntu("libssl3", "3.0.2-0ubuntu1.9", "openssl", "3.0.2-0ubuntu1.9"),
		ubuntu("openssl", "3.0.2-0ubuntu1.10", "openssl", "3.0.2-0ubuntu1.10"),
	})
	want := []match.Finding{{
		ID: "CVE-2024-5000", Aliases: []string{"UBUNTU-CVE-2024-5000"}, Package: "libssl3", SourcePackage: "openssl",
		Ecosystem: "Ubuntu:22.04:LTS", InstalledVersion: "3.0.2-0ubuntu1.9", FixedVersion: "3.0.2-0ubuntu1.10",
		FixStatus: match.FixStatusFixed, Severity: match.SeverityMedium, SeveritySource: "ubuntu priority",
		Layer: match.Layer{DiffID: "sha256:libssl3", Index: 1}, Location: "var/lib/dpkg/status",
		Remediation: "upgrade source openssl to 3.0.2-0ubuntu1.10 (installed: libssl3)", Summary: "openssl: Ubuntu priority only",
	}}
	if diff := cmp.Diff(match.Result{Findings: want, MatchedPackages: 2}, got); diff != "" {
		t.Errorf("Match() (-want +got):\n%s", diff)
	}
}

func TestMatchReportsEcosystemsWithoutDataAsGaps(t *testing.T) {
	idx := loadTestdata(t, "Debian")
	foo := deb("foo", "1.0-2", "foo", "1.0-2")
	in := func(ecosystem string, p inventory.Package) inventory.Package {
		p.Ecosystem = ecosystem
		return p
	}
	tests := []struct {
		name string
		idx  *advisory.Index
		pkgs []inventory.Package
		want match.Result
	}{
		{
			name: "a package without an ecosystem is neither matched nor a gap",
			idx:  idx, pkgs: []inventory.Package{in("", foo)},
			want: match.Result{},
		},
		{
			name: "a release the index has no records for is a gap",
			idx:  idx, pkgs: []inventory.Package{in("Debian:11", foo), in("Debian:11", deb("bar", "1", "bar", "1"))},
			want: match.Result{Gaps: []match.EcosystemGap{{Ecosystem: "Debian:11", Packages: 2, Reason: match.GapNotLoaded}}},
		},
		{
			name: "an ecosystem that was not loaded is a gap while the loaded one is matched",
			idx:  idx, pkgs: []inventory.Package{foo, in("Go", inventory.Package{Name: "golang.org/x/text", Version: "0.3.7"})},
			want: match.Result{
				MatchedPackages: 1,
				Gaps:            []match.EcosystemGap{{Ecosystem: "Go", Packages: 1, Reason: match.GapNotLoaded}},
			},
		},
		{
			name: "an ecosystem without version semantics is a gap",
			idx:  idx, pkgs: []inventory.Package{in("Plan9:4", foo)},
			want: match.Result{Gaps: []match.EcosystemGap{{Ecosystem: "Plan9:4", Packages: 1, Reason: match.GapNoSemantics}}},
		},
		{
			name: "a package whose version does not parse is a gap, the others are matched",
			idx:  idx, pkgs: []inventory.Package{foo, deb("bar", "a:1.0", "bar", "a:1.0")},
			want: match.Result{
				MatchedPackages: 1,
				Gaps:            []match.EcosystemGap{{Ecosystem: "Debian:12", Packages: 1, Reason: match.GapBadVersion}},
			},
		},
		{
			name: "a nil index leaves every ecosystem unmatched",
			idx:  nil, pkgs: []inventory.Package{foo},
			want: match.Result{Gaps: []match.EcosystemGap{{Ecosystem: "Debian:12", Packages: 1, Reason: match.GapNotLoaded}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := match.Match(tt.idx, tt.pkgs)
			got.Findings = nil // the Debian findings of foo are TestMatchSyntheticDebianRecords' business
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Match() (-want +got):\n%s", diff)
			}
		})
	}
}
