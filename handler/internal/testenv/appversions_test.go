package testenv_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// Cases each reference's own documentation gives, so a broken oracle fails here
// before it judges Tidewatch.
func TestAppVersionsOrderEachEcosystemAsItsReferenceDocuments(t *testing.T) {
	v := testenv.NewAppVersions(t)
	for _, tt := range []struct {
		ecosystem, a, b string
		want            int
		source          string
	}{
		// semver.org 2.0.0 §11: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta <
		// 1.0.0-beta < 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0.
		{"crates.io", "1.0.0-alpha", "1.0.0-alpha.1", -1, "semver §11"},
		{"crates.io", "1.0.0-alpha.1", "1.0.0-alpha.beta", -1, "semver §11"},
		{"crates.io", "1.0.0-beta.2", "1.0.0-beta.11", -1, "semver §11"},
		{"crates.io", "1.0.0-rc.1", "1.0.0", -1, "semver §11"},
		{"crates.io", "2.1.1", "2.1.0", 1, "semver §11 (2.1.0 < 2.1.1)"},
		{"crates.io", "1.0.0+build.1", "1.0.0", 0, "semver §10: build metadata ignored"},
		// NuGet "Version precedence": 1.0 == 1.0.0 == 1.0.0.0, labels
		// case-insensitive, pre-release below release, numeric label parts numeric.
		{"NuGet", "1.0", "1.0.0.0", 0, "NuGet normalised versions"},
		{"NuGet", "1.0.0-BETA", "1.0.0-beta", 0, "NuGet labels ignore case"},
		{"NuGet", "1.0.0-beta", "1.0.0", -1, "NuGet pre-release below release"},
		{"NuGet", "1.0.0-alpha.2", "1.0.0-alpha.10", -1, "NuGet SemVer 2.0 numeric label parts"},
		{"NuGet", "1.0.0.1", "1.0.0", 1, "NuGet fourth (revision) part"},
		{"NuGet", "1.0.0+abc", "1.0.0", 0, "NuGet ignores metadata"},
		// Gem::Version docs: "1.0.a" is a prerelease below "1.0"; segments numeric.
		{"RubyGems", "1.0.a", "1.0", -1, "Gem::Version prerelease"},
		{"RubyGems", "2.2.22", "2.2.3", 1, "Gem::Version numeric segments"},
		{"RubyGems", "1.0", "1.0.0", 0, "Gem::Version trailing zeros"},
		// Composer: "v" prefix dropped, stability order dev < alpha < beta < RC < stable.
		{"Packagist", "v1.28.0", "1.28.0", 0, "Composer normalises v1.28.0"},
		{"Packagist", "2.0.0-RC1", "2.0.0", -1, "Composer RC below stable"},
		{"Packagist", "2.0.0-beta1", "2.0.0-RC1", -1, "Composer beta below RC"},
		{"Packagist", "7.4.4", "7.4.10", -1, "Composer numeric parts"},
	} {
		t.Run(tt.ecosystem+" orders "+tt.a+" against "+tt.b+" as "+tt.source, func(t *testing.T) {
			if got := v.Compare(t, tt.ecosystem, tt.a, tt.b); got != tt.want {
				t.Errorf("Compare(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// The findings the records in testdata/apps/advisories give the fixture, read off
// the records by hand: the oracle must derive exactly these.
func TestAppsOracleFindsWhatTheRecordsSayByHand(t *testing.T) {
	o := testenv.NewAppsOracle(t, testenv.AppsAdvisories(t))
	type idFix struct{ ID, Package, Fixed string }
	var got []idFix
	for _, f := range o.Findings(t, testenv.ReadAppsTruth(t)) {
		got = append(got, idFix{f.ID, f.Package, f.FixedVersion})
	}
	want := []idFix{
		{"CVE-2021-25900", "smallvec", "1.6.1"},
		{"CVE-2022-31090", "guzzlehttp/guzzle", "7.4.5"},
		{"CVE-2024-35176", "rexml", "3.2.7"},
		{"GHSA-5crp-9r3c-p9vr", "Newtonsoft.Json", "13.0.1"},
		{"TIDEWATCH-SAMPLE-NUGET-1", "System.Text.Encodings.Web", "4.5.1"},
		{"TIDEWATCH-SAMPLE-PACKAGIST-1", "symfony/polyfill-mbstring", "1.28.1"},
		{"TIDEWATCH-SAMPLE-RUBYGEMS-3", "minitest", "5.15.1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("oracle findings (-by hand +oracle):\n%s", diff)
	}
}
