package testenv

import (
	"slices"
	"testing"
)

func TestAppOraclesFindWhatTheFixturesAreKnownFor(t *testing.T) {
	lodash := AppPackage{Name: "lodash", Version: "4.17.15", Location: "app/node_modules/lodash/package.json"}
	requests := AppPackage{Name: "requests", Version: "2.28.1", Location: "r/PKG-INFO"}
	tests := []struct {
		name    string
		oracle  func(testing.TB) *AppOracle
		pkgs    []AppPackage
		want    []AppFinding
		notWant []string
	}{
		{name: "lodash 4.17.15 has CVE-2020-8203 fixed in 4.17.19 and not the advisories of older lines",
			oracle: NewNPMOracle, pkgs: []AppPackage{lodash},
			want:    []AppFinding{{ID: "CVE-2020-8203", Package: "lodash", Location: lodash.Location, FixedVersion: "4.17.19"}},
			notWant: []string{"CVE-2019-10744", "CVE-2018-16487"}},
		{name: "lodash 4.17.21 no longer has CVE-2020-8203",
			oracle: NewNPMOracle, pkgs: []AppPackage{{Name: "lodash", Version: "4.17.21", Location: "x"}},
			notWant: []string{"CVE-2020-8203"}},
		{name: "requests 2.28.1 has CVE-2023-32681 fixed in 2.31.0",
			oracle: NewPyPIOracle, pkgs: []AppPackage{requests},
			want: []AppFinding{{ID: "CVE-2023-32681", Package: "requests", Location: requests.Location, FixedVersion: "2.31.0"}}},
		{name: "a PyPI name is matched as PEP 503 normalizes it",
			oracle: NewPyPIOracle, pkgs: []AppPackage{{Name: "Requests", Version: "2.28.1", Location: "r/PKG-INFO"}},
			want: []AppFinding{{ID: "CVE-2023-32681", Package: "Requests", Location: "r/PKG-INFO", FixedVersion: "2.31.0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.oracle(t).Findings(t, tt.pkgs)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("no %+v among %+v", w, got)
				}
			}
			for _, f := range got {
				if slices.Contains(tt.notWant, f.ID) {
					t.Errorf("unexpected %+v", f)
				}
			}
		})
	}
}

func TestPythonInventoryListsEveryDebianDistribution(t *testing.T) {
	got := PythonInventory(t, "")
	if len(got) != 8 {
		t.Fatalf("%d distributions, want the 8 packages of testdata/python-debs: %+v", len(got), got)
	}
	want := AppPackage{Name: "PyYAML", Version: "6.0", Location: "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA"}
	if !slices.Contains(got, want) {
		t.Errorf("no %+v among %+v", want, got)
	}
}

func TestNPMInventoryHasTheSidecarsInstalledTree(t *testing.T) {
	got := NPMInventory(t, "node-app", "app")
	want := AppPackage{Name: "ms", Version: "2.1.1", Location: "app/node_modules/send/node_modules/ms/package.json"}
	if len(got) != 52 || !slices.Contains(got, want) {
		t.Errorf("%d packages (want 52) with %+v among them: %+v", len(got), want, got)
	}
}
