package match_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

func deb(name, version, source, sourceVersion string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, SourceName: source, SourceVersion: sourceVersion,
		Type: "deb", LayerIndex: 1, LayerDiffID: "sha256:" + name,
	}
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
	got, err := match.Match(idx, "Debian:12", pkgs)
	if err != nil {
		t.Fatal(err)
	}
	layer := func(name string) match.Layer { return match.Layer{DiffID: "sha256:" + name, Index: 1} }
	log4shell := &match.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Score: 10}
	heartbleed := &match.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Score: 7.5}
	libx := func(id, pkg, fixed, sev string, cvss *match.CVSS, summary string, aliases ...string) match.Finding {
		return match.Finding{
			ID: id, Aliases: aliases, Package: pkg, SourcePackage: "libx", Ecosystem: "Debian:12",
			InstalledVersion: "1.2-1", FixedVersion: fixed, FixStatus: match.FixStatusFixed,
			Severity: sev, CVSS: cvss, Layer: layer(pkg), Summary: summary,
			Remediation: "upgrade libx-bin, libx1 (source libx) to " + fixed,
		}
	}
	want := []match.Finding{
		libx("CVE-2014-0160", "libx-bin", "1.2-1+deb12u3", match.SeverityHigh, heartbleed, "libx: two vulnerabilities", "DSA-5601-1"),
		libx("CVE-2014-0160", "libx1", "1.2-1+deb12u3", match.SeverityHigh, heartbleed, "libx: two vulnerabilities", "DSA-5601-1"),
		libx("CVE-2021-44228", "libx-bin", "1.2-1+deb12u2", match.SeverityCritical, log4shell, "libx: remote code execution", "DEBIAN-CVE-2021-44228", "DSA-5600-1"),
		libx("CVE-2021-44228", "libx1", "1.2-1+deb12u2", match.SeverityCritical, log4shell, "libx: remote code execution", "DEBIAN-CVE-2021-44228", "DSA-5600-1"),
		{
			ID: "CVE-2024-1000", Aliases: []string{"DEBIAN-CVE-2024-1000"}, Package: "foo", SourcePackage: "foo",
			Ecosystem: "Debian:12", InstalledVersion: "1.0-2", FixStatus: match.FixStatusNotFixed,
			Severity: match.SeverityLow, Layer: layer("foo"), Summary: "foo: unfixed flaw",
			Remediation: "no fix available for foo yet (installed: foo)",
		},
		{
			ID: "CVE-2024-1002", Aliases: []string{"DEBIAN-CVE-2024-1002"}, Package: "foo", SourcePackage: "foo",
			Ecosystem: "Debian:12", InstalledVersion: "1.0-2", FixStatus: match.FixStatusNotFixed,
			Severity: match.SeverityMedium, Layer: layer("foo"), Summary: "foo: last_affected equal to the installed version",
			Remediation: "no fix available for foo yet (installed: foo)",
		},
		{
			ID: "CVE-2024-1100", Aliases: []string{"DEBIAN-CVE-2024-1100"}, Package: "bar-utils", SourcePackage: "bar",
			Ecosystem: "Debian:12", InstalledVersion: "2.1-1", FixedVersion: "2.3-1", FixStatus: match.FixStatusFixed,
			Severity: match.SeverityUnknown, Layer: layer("bar-utils"), Summary: "bar: two ranges, listed out of order",
			Remediation: "upgrade bar-utils, libbar2 (source bar) to 2.3-1",
		},
		{
			ID: "CVE-2024-1100", Aliases: []string{"DEBIAN-CVE-2024-1100"}, Package: "libbar2", SourcePackage: "bar",
			Ecosystem: "Debian:12", InstalledVersion: "2.1-1+b1", FixedVersion: "2.3-1", FixStatus: match.FixStatusFixed,
			Severity: match.SeverityUnknown, Layer: layer("libbar2"), Summary: "bar: two ranges, listed out of order",
			Remediation: "upgrade bar-utils, libbar2 (source bar) to 2.3-1",
		},
		{
			ID: "CVE-2024-1200", Aliases: []string{"DEBIAN-CVE-2024-1200"}, Package: "qux", SourcePackage: "qux",
			Ecosystem: "Debian:12", InstalledVersion: "1.5-1", FixStatus: match.FixStatusNotFixed,
			Severity: match.SeverityUnknown, Layer: layer("qux"), Summary: "qux: explicit versions list only",
			Remediation: "no fix available for qux yet (installed: qux)",
		},
		{
			ID: "CVE-2024-3000", Aliases: []string{"DEBIAN-CVE-2024-3000"}, Package: "foo", SourcePackage: "foo",
			Ecosystem: "Debian:12", InstalledVersion: "1.0-2", FixStatus: match.FixStatusWontFix,
			Severity: match.SeverityLow, Layer: layer("foo"), Summary: "foo: the tracker calls it unimportant",
			Remediation: "no fix planned for foo: the distribution will not fix it in this release (installed: foo)",
		},
		libx("CVE-2024-3094", "libx-bin", "1.2-1+deb12u3", match.SeverityHigh, heartbleed, "libx: two vulnerabilities", "DSA-5601-1"),
		libx("CVE-2024-3094", "libx1", "1.2-1+deb12u3", match.SeverityHigh, heartbleed, "libx: two vulnerabilities", "DSA-5601-1"),
		{
			ID: "CVE-2024-6000", Aliases: []string{"DEBIAN-CVE-2024-6000"}, Package: "bar-utils", SourcePackage: "bar",
			Ecosystem: "Debian:12", InstalledVersion: "2.1-1", FixedVersion: "2.1-1+deb12u1", FixStatus: match.FixStatusFixed,
			Severity: match.SeverityUnknown, Layer: layer("bar-utils"), Summary: "bar: CVSS v4 vector only",
			Remediation: "upgrade bar-utils, libbar2 (source bar) to 2.1-1+deb12u1",
		},
		{
			ID: "CVE-2024-6000", Aliases: []string{"DEBIAN-CVE-2024-6000"}, Package: "libbar2", SourcePackage: "bar",
			Ecosystem: "Debian:12", InstalledVersion: "2.1-1+b1", FixedVersion: "2.1-1+deb12u1", FixStatus: match.FixStatusFixed,
			Severity: match.SeverityUnknown, Layer: layer("libbar2"), Summary: "bar: CVSS v4 vector only",
			Remediation: "upgrade bar-utils, libbar2 (source bar) to 2.1-1+deb12u1",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Match() (-want +got):\n%s", diff)
	}
}

func TestMatchUbuntuStyleEcosystem(t *testing.T) {
	idx := loadTestdata(t, "Debian", "Ubuntu")
	got, err := match.Match(idx, "Ubuntu:22.04:LTS", []inventory.Package{
		deb("libssl3", "3.0.2-0ubuntu1.9", "openssl", "3.0.2-0ubuntu1.9"),
		deb("openssl", "3.0.2-0ubuntu1.10", "openssl", "3.0.2-0ubuntu1.10"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []match.Finding{{
		ID: "CVE-2024-5000", Aliases: []string{"UBUNTU-CVE-2024-5000"}, Package: "libssl3", SourcePackage: "openssl",
		Ecosystem: "Ubuntu:22.04:LTS", InstalledVersion: "3.0.2-0ubuntu1.9", FixedVersion: "3.0.2-0ubuntu1.10",
		FixStatus: match.FixStatusFixed, Severity: match.SeverityMedium,
		Layer:       match.Layer{DiffID: "sha256:libssl3", Index: 1},
		Remediation: "upgrade libssl3 (source openssl) to 3.0.2-0ubuntu1.10", Summary: "openssl: Ubuntu priority only",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Match() (-want +got):\n%s", diff)
	}
}

func TestMatchRefusesEcosystemsWithoutData(t *testing.T) {
	idx := loadTestdata(t, "Debian")
	pkgs := []inventory.Package{deb("foo", "1.0-2", "foo", "1.0-2")}
	for _, tt := range []struct{ name, ecosystem string }{
		{"an empty ecosystem is refused", ""},
		{"a release the index has no records for is refused", "Debian:11"},
		{"an ecosystem that was not loaded is refused", "Ubuntu:22.04:LTS"},
		{"an ecosystem without version semantics is refused", "Plan9:4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := match.Match(idx, tt.ecosystem, pkgs)
			if !errors.Is(err, match.ErrEcosystemNotLoaded) {
				t.Fatalf("Match(%q) error = %v, want ErrEcosystemNotLoaded", tt.ecosystem, err)
			}
			if got != nil {
				t.Errorf("Match(%q) returned findings along with an error", tt.ecosystem)
			}
		})
	}
	t.Run("a nil index is refused", func(t *testing.T) {
		if _, err := match.Match(nil, "Debian:12", pkgs); !errors.Is(err, match.ErrEcosystemNotLoaded) {
			t.Fatalf("Match(nil) error = %v, want ErrEcosystemNotLoaded", err)
		}
	})
}
