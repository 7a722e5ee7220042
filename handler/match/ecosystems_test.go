package match_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// gomod is a Go module (or the standard library) found in a binary's build info.
func gomod(name, version, binary string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, SourceName: name, SourceVersion: version, Type: "golang",
		Ecosystem: "Go", Location: binary, PURL: "pkg:golang/" + name + "@" + version,
		LayerIndex: 2, LayerDiffID: "sha256:app",
	}
}

func TestMatchEachPackageInItsOwnEcosystem(t *testing.T) {
	idx := loadTestdata(t, "Debian", "Go")
	pkgs := []inventory.Package{
		deb("qux", "1.5-1", "qux", "1.5-1"),
		gomod("stdlib", "1.26.8", "app/server"),
		gomod("golang.org/x/text", "0.3.7", "app/server"),
		gomod("golang.org/x/text", "0.3.7", "app/worker"),
		gomod("golang.org/x/text", "0.3.8", "app/fixed"),
		gomod("github.com/gin-gonic/gin", "1.7.0", "app/server"),
		gomod("github.com/gin-gonic/gin", "1.5.0", "app/old"),
		gomod("golang.org/x/net", "0.0.0-20220722155237-a158d28d115b", "app/server"),
		// Named like a Debian source with records, but a Go module: Debian records do not apply.
		gomod("qux", "1.5-1", "app/server"),
	}
	got := match.Match(idx, pkgs)

	app := match.Layer{DiffID: "sha256:app", Index: 2}
	xtext := func(binary string) match.Finding {
		return match.Finding{
			ID: "CVE-2022-32149", Aliases: []string{"GHSA-69ch-w2m2-3vjp", "GO-2022-1059"},
			Package: "golang.org/x/text", SourcePackage: "golang.org/x/text", Ecosystem: "Go",
			InstalledVersion: "0.3.7", FixedVersion: "0.3.8", FixStatus: match.FixStatusFixed,
			Severity: match.SeverityUnknown, Layer: app, Location: binary,
			PURL:        "pkg:golang/golang.org/x/text@0.3.7",
			Remediation: "upgrade golang.org/x/text to 0.3.8",
			Summary:     "Denial of service via crafted Accept-Language header in golang.org/x/text/language",
		}
	}
	want := match.Result{
		MatchedPackages: len(pkgs),
		Findings: []match.Finding{
			xtext("app/server"),
			xtext("app/worker"),
			{
				ID: "CVE-2024-1200", Aliases: []string{"DEBIAN-CVE-2024-1200"}, Package: "qux", SourcePackage: "qux",
				Ecosystem: "Debian:12", InstalledVersion: "1.5-1", FixStatus: match.FixStatusNotFixed,
				Severity: match.SeverityUnknown, Layer: match.Layer{DiffID: "sha256:qux", Index: 1},
				Location: "var/lib/dpkg/status", Summary: "qux: explicit versions list only",
				Remediation: "no fix available for qux yet",
			},
			{
				ID: "CVE-2099-0001", Package: "stdlib", SourcePackage: "stdlib", Ecosystem: "Go",
				InstalledVersion: "1.26.8", FixedVersion: "1.26.9", FixStatus: match.FixStatusFixed,
				Severity: match.SeverityMedium, SeveritySource: "CVSS_V3 from GO-2099-0001", Layer: app, Location: "app/server",
				CVSS:        &match.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", Score: 5.9},
				PURL:        "pkg:golang/stdlib@1.26.8",
				Aliases:     []string{"GO-2099-0001"},
				Remediation: "rebuild with Go 1.26.9 or later",
				Summary:     "Synthetic: net/http flaw fixed in Go 1.26.9 and 1.27.1",
			},
			{
				ID: "GO-2099-0002", Aliases: []string{}, Package: "github.com/gin-gonic/gin",
				SourcePackage: "github.com/gin-gonic/gin", Ecosystem: "Go", InstalledVersion: "1.7.0",
				FixStatus: match.FixStatusNotFixed, Severity: match.SeverityUnknown, Layer: app, Location: "app/server",
				PURL:        "pkg:golang/github.com/gin-gonic/gin@1.7.0",
				Remediation: "no fix available for github.com/gin-gonic/gin yet",
				Summary:     "Synthetic: gin flaw without a CVE, no fix yet",
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Match() (-want +got):\n%s", diff)
	}
}

func TestMatchReportsEachIdentityOnce(t *testing.T) {
	idx := loadTestdata(t, "Debian", "Go")
	amd64, i386 := deb("libx1", "1.2-1", "libx", "1.2-1"), deb("libx1", "1.2-1", "libx", "1.2-1")
	amd64.Arch, i386.Arch = "amd64", "i386"
	ids := func(res match.Result) []string {
		var out []string
		for _, f := range res.Findings {
			out = append(out, f.ID+" "+f.Package+" "+f.InstalledVersion+" "+f.Location)
		}
		return out
	}
	tests := []struct {
		name string
		pkgs []inventory.Package
		want []string
	}{
		{
			name: "two architectures of one binary in one database give one finding per vulnerability",
			pkgs: []inventory.Package{amd64, i386},
			want: []string{
				"CVE-2014-0160 libx1 1.2-1 var/lib/dpkg/status",
				"CVE-2021-44228 libx1 1.2-1 var/lib/dpkg/status",
				"CVE-2024-3094 libx1 1.2-1 var/lib/dpkg/status",
			},
		},
		{
			name: "one module in two binaries gives a finding per binary",
			pkgs: []inventory.Package{gomod("golang.org/x/text", "0.3.7", "app/a"), gomod("golang.org/x/text", "0.3.7", "app/b")},
			want: []string{"CVE-2022-32149 golang.org/x/text 0.3.7 app/a", "CVE-2022-32149 golang.org/x/text 0.3.7 app/b"},
		},
		{
			name: "two versions at one location give each vulnerability once, the first listing's",
			pkgs: []inventory.Package{gomod("github.com/gin-gonic/gin", "1.7.0", "app/a"), gomod("github.com/gin-gonic/gin", "1.8.0", "app/a")},
			want: []string{"GO-2099-0002 github.com/gin-gonic/gin 1.7.0 app/a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ids(match.Match(idx, tt.pkgs))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
