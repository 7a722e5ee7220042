package cli_test

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// appEcosystemFinding is what the NuGet, crates.io, RubyGems and Packagist tests
// check of a finding: identity, versions, where the package was read.
type appEcosystemFinding struct {
	ID               string `json:"id"`
	Ecosystem        string `json:"ecosystem"`
	Package          string `json:"package"`
	InstalledVersion string `json:"installedVersion"`
	FixedVersion     string `json:"fixedVersion"`
	Location         string `json:"location"`
}

func TestScanOfTheApplicationFixtureHasExactlyTheAppsOraclesFindings(t *testing.T) {
	advisories := testenv.AppsAdvisories(t)
	var want []appEcosystemFinding
	for _, f := range testenv.NewAppsOracle(t, advisories).Findings(t, testenv.ReadAppsTruth(t)) {
		want = append(want, appEcosystemFinding{f.ID, f.Ecosystem, f.Package, f.Version, f.FixedVersion, f.Location})
	}
	ecosystems := strings.Join(testenv.AppsEcosystems, ",")
	tests := []struct {
		name       string
		extra      []testenv.TarEntry
		wantStatus string
		wantSkip   []string
	}{
		{name: "as it is, it is scanned with os null", wantStatus: "scanned"},
		{name: "with a 50 MB deps.json and a Rust binary whose .dep-v0 is not zlib, it is incomplete, naming both",
			extra: []testenv.TarEntry{
				testenv.RepeatEntry("app/big/Big.deps.json", `{"libraries":{}}`, 50<<20),
				testenv.Executable("app/rust/corrupt", corruptedRustFixture(t)),
			},
			wantStatus: "incomplete", wantSkip: []string{"app/big/Big.deps.json", "app/rust/corrupt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+", with the oracle's findings", func(t *testing.T) {
			r := runCLI(t, "", "scan", "--archive", testenv.AppsArchive(t, tt.extra...), "--advisories", advisories,
				"--ecosystems", ecosystems, "--format", "json")
			if r.code != 0 {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			if len(got.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1", len(got.Platforms))
			}
			p := got.Platforms[0]
			if p.Status != tt.wantStatus || p.OS != nil {
				t.Errorf("status %q os %+v (%s), want %s with os null", p.Status, p.OS, p.Error, tt.wantStatus)
			}
			var skipped []string
			for _, raw := range p.Skipped {
				var s struct {
					Path   string `json:"path"`
					Reason string `json:"reason"`
				}
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatal(err)
				}
				if s.Reason == "" {
					t.Errorf("%s skipped without a reason", s.Path)
				}
				skipped = append(skipped, s.Path)
			}
			if diff := cmp.Diff(tt.wantSkip, skipped); diff != "" {
				t.Errorf("skipped (-want +scan):\n%s", diff)
			}
			var findings []appEcosystemFinding
			for _, raw := range p.Findings {
				var f appEcosystemFinding
				if err := json.Unmarshal(raw, &f); err != nil {
					t.Fatal(err)
				}
				findings = append(findings, f)
			}
			if diff := cmp.Diff(want, findings); diff != "" {
				t.Errorf("findings (-apps oracle +scan):\n%s", diff)
			}
		})
	}
}

// corruptedRustFixture is the fixture's Rust binary with the zlib header of its
// .dep-v0 section, located with debug/elf, overwritten.
func corruptedRustFixture(t *testing.T) string {
	t.Helper()
	bin := bytes.Clone(testenv.AppsFile(t, "app/rust/tidewatch-rust-fixture"))
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".dep-v0")
	if sec == nil {
		t.Fatal("the fixture binary has no .dep-v0 section")
	}
	copy(bin[sec.Offset:], "\x00\x00")
	return string(bin)
}
