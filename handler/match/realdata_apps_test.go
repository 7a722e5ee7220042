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

func TestMatchAgreesWithTheAppsOracleOnNuGetCratesRubyGemsAndPackagist(t *testing.T) {
	dir := testenv.AppsAdvisories(t)
	idx, err := advisory.Load(context.Background(), dir, testenv.AppsEcosystems)
	if err != nil {
		t.Fatal(err)
	}
	truth := testenv.ReadAppsTruth(t)
	want := testenv.NewAppsOracle(t, dir).Findings(t, truth)
	pkgs := make([]inventory.Package, 0, len(truth))
	for _, p := range truth {
		pkgs = append(pkgs, inventory.Package{
			Name: p.Name, Version: p.Version, SourceName: p.Name, SourceVersion: p.Version,
			Type: "app", Ecosystem: p.Ecosystem, Location: p.Location,
		})
	}
	res := match.Match(idx, pkgs)
	if len(res.Gaps) > 0 || res.MatchedPackages != len(pkgs) {
		t.Fatalf("Match() left packages unmatched: %+v", res.Gaps)
	}
	got := make([]testenv.AppsFinding, 0, len(res.Findings))
	for _, f := range res.Findings {
		got = append(got, testenv.AppsFinding{ID: f.ID, Ecosystem: f.Ecosystem, Package: f.Package,
			Version: f.InstalledVersion, FixedVersion: f.FixedVersion, Location: f.Location})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-oracle +match):\n%s", diff)
	}
	t.Logf("%d findings on %d packages", len(got), len(pkgs))
}
