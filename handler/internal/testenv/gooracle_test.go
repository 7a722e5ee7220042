package testenv

import (
	"slices"
	"testing"
)

func TestGoOracleFindsKnownGoAppVulnerabilities(t *testing.T) {
	mods := ReadGoBinary(t, "go-app").Modules(t)
	if !slices.Contains(mods, GoModule{Path: "golang.org/x/text", Version: "0.3.7"}) {
		t.Fatalf("the go-app sidecar no longer lists x/text 0.3.7: %v", mods)
	}
	got := NewGoOracle(t).Findings(t, mods)
	// GO-2022-1059 (CVE-2022-32149): x/text before 0.3.8, as the fixture README says.
	want := ExpectedFinding{ID: "CVE-2022-32149", Package: "golang.org/x/text", FixedVersion: "0.3.8"}
	if !slices.Contains(got, want) {
		t.Errorf("no %+v among %d findings: %+v", want, len(got), got)
	}
}

func TestGoReleaseSyntax(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"1.21.5", "1.21.5"}, {"1.21.0-rc.2", "1.21rc2"}, {"1.22.0-0", "1.22rc0"}, {"1.20", "1.20"},
	} {
		if got := goRelease(tt.in); got != tt.want {
			t.Errorf("goRelease(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
