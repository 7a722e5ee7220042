package match_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

func TestMatchOrdersMavenVersionsAsMavensComparableVersionDoes(t *testing.T) {
	dir := testenv.MavenAdvisories(t)
	idx, err := advisory.Load(context.Background(), dir, []string{"Maven"})
	if err != nil {
		t.Fatal(err)
	}
	// Versions on and around every bound of the fixture's GHSA ranges, with Maven's
	// qualifiers (beta, rc, SNAPSHOT, sp), trailing zeros and a fourth component.
	versions := map[string][]string{
		"org.apache.logging.log4j:log4j-core": {"2.0-beta8", "2.0-beta9", "2.0-rc1", "2.0", "2.3", "2.3.1", "2.3.2",
			"2.4", "2.4-SNAPSHOT", "2.12.1", "2.12.2", "2.12.2-rc1", "2.13", "2.13.0", "2.14.1", "2.15", "2.15.0-rc1", "2.15.0-sp1", "2.17.1"},
		"commons-io:commons-io":              {"1.4", "2", "2.0", "2.0.1", "2.11.0", "2.13.0.1", "2.14", "2.14.0", "2.14.0-SNAPSHOT"},
		"org.apache.commons:commons-text":    {"1.4", "1.5", "1.9", "1.10", "1.10.0", "1.10.0-M1", "1.11.0"},
		"org.apache.commons:commons-lang3":   {"3.0", "3.12.0", "3.17.0", "3.18.0", "3.18"},
		"org.apache.commons:commons-unknown": {"1.0"},
	}
	var pkgs []inventory.Package
	var truth []testenv.MavenPackage
	for name, vs := range versions {
		for _, v := range vs {
			location := "app/" + name + "-" + v + ".jar"
			pkgs = append(pkgs, inventory.Package{Name: name, Version: v, SourceName: name, SourceVersion: v,
				Type: "maven", Ecosystem: "Maven", Location: location})
			truth = append(truth, testenv.MavenPackage{Name: name, Version: v, Location: location})
		}
	}
	want := testenv.NewMavenOracle(t, dir).Findings(t, truth)
	res := match.Match(idx, pkgs)
	if len(res.Gaps) > 0 || res.MatchedPackages != len(pkgs) {
		t.Fatalf("Match() left packages unmatched: %+v", res.Gaps)
	}
	got := []testenv.ExpectedFinding{}
	for _, f := range res.Findings {
		got = append(got, testenv.ExpectedFinding{ID: f.ID, Package: f.Package + " " + f.Location, FixedVersion: f.FixedVersion})
		if f.Ecosystem != "Maven" {
			t.Errorf("%s on %s: ecosystem %q", f.ID, f.Package, f.Ecosystem)
		}
	}
	if len(want) < 15 {
		t.Fatalf("the oracle finds only %d findings; the fixture records changed", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-ComparableVersion oracle +match):\n%s", diff)
	}
}
