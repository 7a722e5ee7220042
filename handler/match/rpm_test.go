package match_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// almaRPM is an installed AlmaLinux 9 rpm read from the BerkeleyDB rpmdb.
func almaRPM(name, version, source string) inventory.Package {
	return inventory.Package{Name: name, Version: version, SourceName: source, SourceVersion: version,
		Arch: "x86_64", Type: "rpm", Ecosystem: "AlmaLinux:9", Location: "var/lib/rpm/Packages"}
}

func TestAlmaLinuxPackagesMatchByBinaryNameInRPMOrder(t *testing.T) {
	idx := loadTestdata(t, "AlmaLinux")
	got := match.Match(idx, []inventory.Package{
		almaRPM("libfoo-common", "1.0-1.el9", "libfoo"),
		almaRPM("epochy", "1:1.0-1.el9", "epochy"),
	})
	var ids []string
	for _, f := range got.Findings {
		ids = append(ids, f.ID+" "+f.Package+" "+f.InstalledVersion+" "+f.FixedVersion)
	}
	// By rpm's rules: an epoch outranks any version, and release 1.el9 sorts before
	// 1.el9_0; advisories naming the source package (libfoo) do not apply to its binaries.
	want := []string{
		"ALSA-2099:0002 libfoo-common 1.0-1.el9 1.0-2.el9",
		"ALSA-2099:0004 epochy 1:1.0-1.el9 1:1.0-1.el9_0",
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("findings as id package installed fixed (-want +got):\n%s", diff)
	}
	if got.MatchedPackages != 2 || len(got.Gaps) != 0 {
		t.Errorf("matched %d packages with gaps %+v, want 2 and none", got.MatchedPackages, got.Gaps)
	}
}
