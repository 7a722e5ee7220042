package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/scanner"
)

// goOnlyResult is a scan of an index holding a Go-only platform with one finding, a
// clean platform and an incomplete one, plus an SBOM the index resolution skipped.
func goOnlyResult() *scanner.Result {
	return &scanner.Result{
		Image: "registry.test/app:1", IndexDigest: "sha256:index",
		Skipped: []image.SkippedManifest{{Digest: "sha256:sbom", MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/spdx+json", Reason: "artifact manifest"}},
		Platforms: []scanner.PlatformResult{
			{
				Platform: "linux/amd64", Digest: "sha256:amd", Status: scanner.StatusScanned, AdvisorySource: scanner.NoAdvisorySource,
				Packages: map[string]int{"Go": 12}, Unmatched: []match.EcosystemGap{}, Skipped: []inventory.SkippedFile{},
				Findings: []match.Finding{{ID: "GO-2022-1059", Package: "golang.org/x/text", Ecosystem: "Go",
					InstalledVersion: "0.3.7", FixedVersion: "0.3.8", FixStatus: match.FixStatusFixed,
					Severity: match.SeverityHigh, Location: "app/server"}},
			},
			{
				Platform: "linux/arm64", Digest: "sha256:arm", Status: scanner.StatusScanned, AdvisorySource: "Debian",
				OS:       &inventory.OS{OSRelease: inventory.OSRelease{ID: "debian", VersionID: "12"}, Ecosystem: "Debian:12"},
				Packages: map[string]int{"Debian:12": 97, "Go": 12}, Unmatched: []match.EcosystemGap{}, Skipped: []inventory.SkippedFile{},
				Findings: []match.Finding{},
			},
			{
				Platform: "linux/s390x", Digest: "sha256:s390x", Status: scanner.StatusIncomplete, AdvisorySource: "Debian",
				OS:       &inventory.OS{OSRelease: inventory.OSRelease{ID: "debian", VersionID: "12"}, Ecosystem: "Debian:12"},
				Packages: map[string]int{}, Unmatched: []match.EcosystemGap{},
				Skipped:  []inventory.SkippedFile{{Path: "var/lib/dpkg/status", LayerIndex: 1, Reason: "larger than the 100 MiB cap"}},
				Error:    "1 file not inventoried: var/lib/dpkg/status (layer 1: larger than the 100 MiB cap)",
				Findings: []match.Finding{},
			},
		},
	}
}

func TestJSONCarriesScanHealth(t *testing.T) {
	var out bytes.Buffer
	if err := writeResult(&out, "json", goOnlyResult()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Skipped   []map[string]string `json:"skipped"`
		Platforms []map[string]json.RawMessage
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	t.Run("skipped index entries are listed at the result level", func(t *testing.T) {
		want := []map[string]string{{"digest": "sha256:sbom", "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": "application/spdx+json", "reason": "artifact manifest"}}
		if diff := cmp.Diff(want, got.Skipped); diff != "" {
			t.Errorf("skipped (-want +got):\n%s", diff)
		}
	})
	want := []map[string]string{
		{"os": "null", "advisorySource": `"none"`, "packages": `{"Go":12}`, "skipped": "[]", "unmatched": "[]"},
		{"findings": "[]", "advisorySource": `"Debian"`, "packages": `{"Debian:12":97,"Go":12}`},
		{"findings": "[]", "skipped": `[{"path":"var/lib/dpkg/status","layerIndex":1,"reason":"larger than the 100 MiB cap"}]`},
	}
	for i, fields := range want {
		for key, value := range fields {
			t.Run(string(got.Platforms[i]["platform"])+" has "+key+" "+value, func(t *testing.T) {
				var compact bytes.Buffer
				if err := json.Compact(&compact, got.Platforms[i][key]); err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				if compact.String() != value {
					t.Errorf("%s = %s, want %s", key, compact.String(), value)
				}
			})
		}
	}
}

func TestTableShowsOSNoneSkipsAndPackageCounts(t *testing.T) {
	var out bytes.Buffer
	if err := writeResult(&out, "table", goOnlyResult()); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"skipped sha256:sbom  artifact manifest",
		"linux/amd64  sha256:amd  scanned  OS: none",
		"Packages: Go 12\nAdvisory source: none",
		"linux/arm64  sha256:arm  scanned  OS: debian 12 (Debian:12)",
		"Packages: Debian:12 97, Go 12\nAdvisory source: Debian",
		"linux/s390x  sha256:s390x  incomplete  OS: debian 12 (Debian:12)",
		"Packages: none found",
		"Note: 1 file not inventoried: var/lib/dpkg/status (layer 1: larger than the 100 MiB cap)",
		"Skipped file: var/lib/dpkg/status (layer 1: larger than the 100 MiB cap)",
	} {
		t.Run("prints "+line, func(t *testing.T) {
			if !strings.Contains(out.String()+"\n", line+"\n") {
				t.Errorf("no line %q in:\n%s", line, out.String())
			}
		})
	}
}

func TestExitCodeCountsEveryPlatformNotPlainlyScanned(t *testing.T) {
	platform := func(status string, findings int) scanner.PlatformResult {
		return scanner.PlatformResult{Status: status, Findings: make([]match.Finding, findings)}
	}
	tests := []struct {
		name     string
		platform scanner.PlatformResult
		want     bool
	}{
		{"a scanned platform with findings counts", platform(scanner.StatusScanned, 1), true},
		{"a clean scanned platform does not count", platform(scanner.StatusScanned, 0), false},
		{"an incomplete platform counts even without findings", platform(scanner.StatusIncomplete, 0), true},
		{"an unsupported platform counts", platform(scanner.StatusUnsupported, 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &scanner.Result{Platforms: []scanner.PlatformResult{platform(scanner.StatusScanned, 0), tt.platform}}
			if got := needsAttention(res); got != tt.want {
				t.Errorf("needsAttention() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEachTableRowNamesTheFindingsLayerAndLocation(t *testing.T) {
	res := goOnlyResult()
	res.Platforms[0].Findings[0].Layer = match.Layer{DiffID: "sha256:0123456789abcdef0123", Index: 2}
	var out bytes.Buffer
	if err := writeResult(&out, "table", res); err != nil {
		t.Fatal(err)
	}
	var row []string
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "GO-2022-1059" {
			row = f
		}
	}
	want := []string{"GO-2022-1059", "HIGH", "golang.org/x/text", "0.3.7", "0.3.8", "fixed", "2", "sha256:0123456789ab", "app/server"}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("row of GO-2022-1059 (-want +got):\n%s\n%s", diff, out.String())
	}
}
