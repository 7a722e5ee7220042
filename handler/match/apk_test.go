package match_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// apkPkg is an installed apk package of origin, as the inventory reports it.
func apkPkg(name, version, origin, ecosystem string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, SourceName: origin, SourceVersion: version, Arch: "x86_64", Type: "apk",
		Ecosystem: ecosystem, Location: "lib/apk/db/installed", LayerDiffID: "sha256:base",
	}
}

func TestMatchApkPackagesByOriginInApkOrder(t *testing.T) {
	idx := loadTestdata(t, "Alpine", "Wolfi", "Chainguard")
	tests := []struct {
		name string
		pkg  inventory.Package
		want []string // "id package source ecosystem installed fixed"
	}{
		{name: "a subpackage below the fix is affected through its origin",
			pkg:  apkPkg("libcrypto3", "3.3.2-r0", "openssl", "Alpine:v3.20"),
			want: []string{"CVE-2099-0001 libcrypto3 openssl Alpine:v3.20 3.3.2-r0 3.3.2-r1"}},
		{name: "a release candidate orders below the release, so it is affected",
			pkg:  apkPkg("libssl3", "3.3.2_rc1-r9", "openssl", "Alpine:v3.20"),
			want: []string{"CVE-2099-0001 libssl3 openssl Alpine:v3.20 3.3.2_rc1-r9 3.3.2-r1"}},
		{name: "components compare as numbers: 3.3.10 is above 3.3.2",
			pkg: apkPkg("libssl3", "3.3.10-r0", "openssl", "Alpine:v3.20")},
		{name: "the fixed version itself is not affected",
			pkg: apkPkg("libcrypto3", "3.1.7-r0", "openssl", "Alpine:v3.19")},
		{name: "a branch's fixes do not apply to another branch: v3.19's 3.1.7-r0, not v3.20's 3.3.2-r1",
			pkg: apkPkg("libcrypto3", "3.3.2-r0", "openssl", "Alpine:v3.19")},
		{name: "a subpackage's own name matches nothing when its origin has the records",
			pkg: apkPkg("openssl", "1.0.2g-r0", "libressl", "Alpine:v3.4")},
		{name: "a real secdb record matches the v3.4 openssl subpackages",
			pkg:  apkPkg("libssl1.0", "1.0.2g-r0", "openssl", "Alpine:v3.4"),
			want: []string{"CVE-2016-2105 libssl1.0 openssl Alpine:v3.4 1.0.2g-r0 1.0.2h-r0"}},
		{name: "Wolfi packages match Wolfi's records by origin",
			pkg:  apkPkg("libcrypto3", "3.3.2-r0", "openssl", "Wolfi"),
			want: []string{"CVE-2099-0002 libcrypto3 openssl Wolfi 3.3.2-r0 3.3.2-r1"}},
		{name: "Chainguard packages match Chainguard's records, not Wolfi's",
			pkg:  apkPkg("libcrypto3", "3.3.2-r0", "openssl", "Chainguard"),
			want: []string{"CVE-2099-0003 libcrypto3 openssl Chainguard 3.3.2-r0 3.3.2-r1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := match.Match(idx, []inventory.Package{tt.pkg})
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.ID+" "+f.Package+" "+f.SourcePackage+" "+f.Ecosystem+" "+f.InstalledVersion+" "+f.FixedVersion)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if len(res.Gaps) != 0 || res.MatchedPackages != 1 {
				t.Errorf("gaps %+v, matched %d; want none and 1", res.Gaps, res.MatchedPackages)
			}
		})
	}
}
