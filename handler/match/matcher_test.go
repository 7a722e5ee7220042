package match_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

func TestAMatcherMatchesLikeMatchAndRemembersNothingWrong(t *testing.T) {
	idx := loadTestdata(t, "Debian")
	images := map[string][]inventory.Package{
		"openssl and two kernel binaries": {deb("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
			deb("linux-image-a", "6.1.115-1", "linux", "6.1.115-1"), deb("linux-image-b", "6.1.115-1", "linux", "6.1.115-1")},
		"the same sources at other versions": {deb("libssl3", "3.0.15-1~deb12u1", "openssl", "3.0.15-1~deb12u1"),
			deb("linux-image-a", "6.1.119-1", "linux", "6.1.119-1")},
		"another binary of a source already seen": {deb("openssl", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2")},
	}
	m := match.NewMatcher(idx)
	for round := range 2 { // the second round is answered from the memo
		for name, pkgs := range images {
			t.Run(name, func(t *testing.T) {
				want := match.Match(idx, pkgs)
				if round == 0 && len(want.Findings) == 0 && name == "openssl and two kernel binaries" {
					t.Fatalf("no findings: the case tests nothing")
				}
				if diff := cmp.Diff(want, m.Match(pkgs)); diff != "" {
					t.Errorf("round %d: Matcher.Match differs from Match (-Match +Matcher):\n%s", round, diff)
				}
			})
		}
	}
}
