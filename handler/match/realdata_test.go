package match_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

func TestMatchAgreesWithDpkgOnSharedImages(t *testing.T) {
	idx, err := advisory.Load(context.Background(), testenv.Advisories(t), []string{"Debian"})
	if err != nil {
		t.Fatal(err)
	}
	oracle := testenv.NewDebianOracle(t)
	for _, image := range []string{"debian12-minbase", "debian12-layered", "distroless-style"} {
		truth := testenv.ReadSidecar(t, image)
		for _, platform := range slices.Sorted(maps.Keys(truth.DpkgInventory)) {
			sidecar := truth.DpkgInventory[platform].Packages
			t.Run(image+" "+platform+" findings match dpkg's verdicts", func(t *testing.T) {
				want := oracle.Findings(t, sidecar)
				if len(want) == 0 {
					t.Fatal("the sidecar inventory yields no expected finding; the fixture changed")
				}
				pkgs := make([]inventory.Package, 0, len(sidecar))
				for _, p := range sidecar {
					pkgs = append(pkgs, inventory.Package{
						Name: p.Package, Version: p.Version, SourceName: p.SourcePackage, SourceVersion: p.SourceVersion,
						Arch: p.Architecture, Type: "deb", Ecosystem: "Debian:12",
						LayerIndex: p.IntroducedInLayer, LayerDiffID: p.IntroducedInLayerDiffID,
					})
				}
				findings := matchDebian12(t, idx, pkgs)
				got := make([]testenv.ExpectedFinding, 0, len(findings))
				for _, f := range findings {
					got = append(got, testenv.ExpectedFinding{ID: f.ID, Package: f.Package, FixedVersion: f.FixedVersion, LayerDiffID: f.Layer.DiffID})
					if f.FixStatus != match.FixStatusFixed {
						t.Errorf("%s/%s has FixStatus %q; every shared Debian record has a fix", f.ID, f.Package, f.FixStatus)
					}
					if f.Severity != match.SeverityUnknown {
						t.Errorf("%s/%s has severity %s; the shared data has neither CVSS nor tracker urgency", f.ID, f.Package, f.Severity)
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("findings (-want +got):\n%s", diff)
				}
				t.Logf("%d findings", len(got))
			})
		}
	}
}
