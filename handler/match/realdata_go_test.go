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

func TestMatchAgreesWithTheGoOracleOnTheSharedGoApp(t *testing.T) {
	idx, err := advisory.Load(context.Background(), testenv.Advisories(t), []string{"Go"})
	if err != nil {
		t.Fatal(err)
	}
	mods := testenv.ReadGoBinary(t, "go-app").Modules(t)
	want := testenv.NewGoOracle(t).Findings(t, mods)
	if len(want) == 0 {
		t.Fatal("the oracle expects no finding for go-app; the fixture or the advisory data changed")
	}
	pkgs := make([]inventory.Package, 0, len(mods))
	for _, m := range mods {
		pkgs = append(pkgs, inventory.Package{
			Name: m.Path, Version: m.Version, SourceName: m.Path, SourceVersion: m.Version,
			Type: "golang", Ecosystem: "Go", Location: "app/go-app",
		})
	}
	res := match.Match(idx, pkgs)
	if len(res.Gaps) > 0 || res.MatchedPackages != len(pkgs) {
		t.Fatalf("Match() left packages unmatched: %+v", res.Gaps)
	}
	got := make([]testenv.ExpectedFinding, 0, len(res.Findings))
	for _, f := range res.Findings {
		got = append(got, testenv.ExpectedFinding{ID: f.ID, Package: f.Package, FixedVersion: f.FixedVersion})
		if f.Ecosystem != "Go" || f.Location != "app/go-app" {
			t.Errorf("%s on %s: ecosystem %q location %q", f.ID, f.Package, f.Ecosystem, f.Location)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-oracle +match):\n%s", diff)
	}
	t.Logf("%d findings on %d modules", len(got), len(mods))
}
