package cli_test

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestScanOfABinaryBuiltByAnOldToolchainHasTheGoOraclesFindings(t *testing.T) {
	body, info := testenv.OldGoBinary(t)
	want := []string{}
	for _, f := range testenv.NewGoOracle(t).Findings(t, info.Modules(t)) {
		want = append(want, "app/oldgo "+f.ID+" "+f.Package)
	}
	sort.Strings(want)
	// The oracle must see both the old standard library and the old x/text, or the
	// fixture proves nothing about either.
	seen := map[string]bool{}
	for _, f := range testenv.NewGoOracle(t).Findings(t, info.Modules(t)) {
		seen[f.Package] = true
	}
	if !seen["stdlib"] || !seen["golang.org/x/text"] {
		t.Fatalf("the Go oracle finds %v; want findings on stdlib go1.22.0 and golang.org/x/text v0.3.7", seen)
	}
	archive := testenv.DockerArchive(t, testenv.Tar(testenv.Executable("app/oldgo", body)))
	r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t),
		"--ecosystems", "Go", "--format", "json", "--exit-code", "3")
	if r.code != 3 {
		t.Errorf("exit code = %d, want 3 (findings); stderr:\n%s", r.code, r.stderr)
	}
	got := decodeScan(t, r)
	if len(got.Platforms) != 1 {
		t.Fatalf("%d platforms, want 1; stderr:\n%s", len(got.Platforms), r.stderr)
	}
	p := got.Platforms[0]
	if p.Status != "scanned" || p.OS != nil || p.AdvisorySource != "none" {
		t.Errorf("status %q (%s) os %+v advisory source %q, want scanned, no os-release, none", p.Status, p.Error, p.OS, p.AdvisorySource)
	}
	if diff := cmp.Diff(map[string]int{"Go": len(info.Modules(t))}, p.Packages); diff != "" {
		t.Errorf("packages per ecosystem (-go version -m +scan):\n%s", diff)
	}
	if diff := cmp.Diff(want, locatedFindings(t, p.Findings)); diff != "" {
		t.Errorf("findings as location id package (-Go oracle +scan):\n%s", diff)
	}
}
