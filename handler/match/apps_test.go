package match_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// appPackage is an npm or PyPI package read from location.
func appPackage(ecosystem, name, version, location string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, SourceName: name, SourceVersion: version,
		Type: strings.ToLower(ecosystem), Ecosystem: ecosystem, Location: location,
	}
}

func TestNPMAndPyPIPackagesAreMatchedWithTheirOwnVersionRules(t *testing.T) {
	idx := loadTestdata(t, "PyPI", "npm")
	row := func(f match.Finding) string {
		return strings.Join([]string{f.ID, f.Package, f.InstalledVersion, f.FixedVersion, f.FixStatus}, " ")
	}
	tests := []struct {
		name string
		pkg  inventory.Package
		want []string
	}{
		{name: "npm 4.17.9 is below 4.17.21 (semver, not string order)",
			pkg: appPackage("npm", "leftpad", "4.17.9", "a/package.json"), want: []string{"CVE-2099-3333 leftpad 4.17.9 4.17.21 fixed"}},
		{name: "npm 4.17.21 is fixed",
			pkg: appPackage("npm", "leftpad", "4.17.21", "a/package.json"), want: []string{}},
		{name: "npm beta.2 is at or below last_affected beta.9",
			pkg: appPackage("npm", "@scope/pre", "1.0.0-beta.2", "a/package.json"), want: []string{"GHSA-npm2-aaaa-bbbb @scope/pre 1.0.0-beta.2  not-fixed"}},
		{name: "npm beta.10 is above last_affected beta.9 (numeric pre-release identifiers)",
			pkg: appPackage("npm", "@scope/pre", "1.0.0-beta.10", "a/package.json"), want: []string{}},
		{name: "PyPI names are matched as PEP 503 normalizes them",
			pkg: appPackage("PyPI", "Foo.Bar_baz", "1.9", "x.dist-info/METADATA"), want: []string{"CVE-2099-2222 Foo.Bar_baz 1.9 2.0 fixed"}},
		{name: "PyPI 2.0rc1 is a pre-release of 2.0, so below it",
			pkg: appPackage("PyPI", "foo-bar-baz", "2.0rc1", "x.dist-info/METADATA"), want: []string{"CVE-2099-2222 foo-bar-baz 2.0rc1 2.0 fixed"}},
		{name: "PyPI 2.0.0 equals the fix 2.0",
			pkg: appPackage("PyPI", "foo-bar-baz", "2.0.0", "x.dist-info/METADATA"), want: []string{}},
		{name: "PyPI epoch 1!1.0 is above every epoch-0 version",
			pkg: appPackage("PyPI", "foo-bar-baz", "1!1.0", "x.dist-info/METADATA"), want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := match.Match(idx, []inventory.Package{tt.pkg})
			got := []string{}
			for _, f := range res.Findings {
				got = append(got, row(f))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if res.MatchedPackages != 1 || len(res.Gaps) != 0 {
				t.Errorf("matched %d, gaps %+v; want 1 matched and no gap", res.MatchedPackages, res.Gaps)
			}
		})
	}
}

func TestAGitHubAndAPyPARecordOfOneCVEOnOnePackageAreOneFinding(t *testing.T) {
	idx := loadTestdata(t, "PyPI")
	got := match.Match(idx, []inventory.Package{appPackage("PyPI", "Jinja2", "3.1.2", "usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info/PKG-INFO")}).Findings
	want := []match.Finding{{
		ID: "CVE-2099-1111", Aliases: []string{"GHSA-aaaa-bbbb-cccc", "PYSEC-2099-1"},
		Package: "Jinja2", SourcePackage: "Jinja2", Ecosystem: "PyPI", InstalledVersion: "3.1.2",
		// The highest of the two fixes: 3.1.3 (PyPA) does not resolve the GitHub record.
		FixedVersion: "3.1.4", FixStatus: match.FixStatusFixed,
		Severity: match.SeverityHigh, SeveritySource: "CVSS_V3 from GHSA-aaaa-bbbb-cccc",
		CVSS:        &match.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Score: 7.5},
		Location:    "usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info/PKG-INFO",
		Remediation: "upgrade Jinja2 to 3.1.4",
		Summary:     "Synthetic: Jinja2 sandbox escape (GitHub record)",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestAGitHubAndAPyPARecordThatNameNoCVEButEachOtherAreOneFinding(t *testing.T) {
	idx := loadTestdata(t, "PyPI")
	got := []string{}
	for _, f := range match.Match(idx, []inventory.Package{appPackage("PyPI", "MarkupSafe", "2.1.2", "m/PKG-INFO")}).Findings {
		got = append(got, f.ID+" "+strings.Join(f.Aliases, ",")+" "+f.FixedVersion)
	}
	if diff := cmp.Diff([]string{"GHSA-zzzz-yyyy-xxxx PYSEC-2099-3 2.1.3"}, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
