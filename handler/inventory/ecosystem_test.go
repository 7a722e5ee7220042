package inventory_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/osv-scalibr/purl"
	purlecosystem "github.com/google/osv-scalibr/purl/ecosystem"

	"github.com/tidewatch/tidewatch/handler/inventory"
)

// osvUbuntuEcosystem is OSV's name for an Ubuntu release as osv-scalibr's PURL →
// ecosystem table knows it (the names OSV's Ubuntu records use, LTS suffix
// included); it is the oracle, independent of Tidewatch's own naming.
func osvUbuntuEcosystem(t *testing.T, versionID string) string {
	t.Helper()
	p := &purl.PackageURL{Type: purl.TypeDebian, Namespace: "ubuntu", Name: "x", Version: "1",
		Qualifiers: purl.QualifiersFromMap(map[string]string{purl.Distro: versionID})}
	parsed := purlecosystem.FromPURL(p)
	if parsed.Suffix == "" {
		t.Fatalf("osv-scalibr knows no OSV ecosystem for Ubuntu %s", versionID)
	}
	return parsed.String()
}

func TestUbuntuEcosystemsAreNamedAsOSVNamesThem(t *testing.T) {
	tests := []struct {
		name, versionID, want string
	}{
		{"a 22.04 image is Ubuntu:22.04:LTS", "22.04", "Ubuntu:22.04:LTS"},
		{"a 24.04 image is Ubuntu:24.04:LTS", "24.04", "Ubuntu:24.04:LTS"},
		{"a 23.10 interim release has no LTS suffix", "23.10", "Ubuntu:23.10"},
		{"a 20.04 image is Ubuntu:20.04:LTS", "20.04", "Ubuntu:20.04:LTS"},
		{"a 25.04 interim release has no LTS suffix", "25.04", "Ubuntu:25.04"},
		{"an 18.04 image is Ubuntu:18.04:LTS", "18.04", "Ubuntu:18.04:LTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if osv := osvUbuntuEcosystem(t, tt.versionID); osv != tt.want {
				t.Fatalf("test table says %q but OSV (via osv-scalibr) names it %q", tt.want, osv)
			}
			inv, err := inventory.Merge(layers(inventory.LayerResult{
				OSReleaseFiles: map[string]inventory.OSReleaseFile{"etc/os-release": {Release: release("ubuntu", tt.versionID)}},
				PackageFiles:   map[string][]inventory.Package{status: {deb("libc6", "2.35-0ubuntu3", status)}},
			}))
			if err != nil {
				t.Fatal(err)
			}
			if inv.OS == nil {
				t.Fatal("no OS detected")
			}
			got := []string{inv.OS.Ecosystem, inv.Packages[0].Ecosystem}
			if diff := cmp.Diff([]string{tt.want, tt.want}, got); diff != "" {
				t.Errorf("OS and package ecosystems (-want +got):\n%s", diff)
			}
		})
	}
}
