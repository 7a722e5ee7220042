package testenv_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestComparableVersionOrdersAsMavensSpecificationSays(t *testing.T) {
	// The orderings Maven's ComparableVersion documents: qualifiers alpha < beta <
	// milestone < rc = cr < snapshot < "" = ga = final < sp, trailing zeros dropped.
	pairs := map[[2]string]int{
		{"1-alpha", "1-beta"}: -1, {"1-beta", "1-milestone"}: -1, {"1-milestone", "1-rc"}: -1,
		{"1-rc", "1-cr"}: 0, {"1-rc", "1-SNAPSHOT"}: -1, {"1-SNAPSHOT", "1"}: -1, {"1", "1-ga"}: 0,
		{"1-final", "1"}: 0, {"1", "1-sp"}: -1, {"1.0.0", "1"}: 0, {"2.0-beta9", "2.0"}: -1,
		{"2.10", "2.9"}: 1, {"1.10.0", "1.10"}: 0,
	}
	var batch [][2]string
	for p := range pairs {
		batch = append(batch, p)
	}
	got := testenv.CompareMavenVersions(t, batch)
	for p, want := range pairs {
		if got[p] != want || got[[2]string{p[1], p[0]}] != -want {
			t.Errorf("%s vs %s = %d, want %d", p[0], p[1], got[p], want)
		}
	}
}

func TestMavenOracleFindsTheFixtureRecordsOnTheirBoundaries(t *testing.T) {
	oracle := testenv.NewMavenOracle(t, testenv.MavenAdvisories(t))
	got := oracle.Findings(t, []testenv.MavenPackage{
		{Name: "commons-io:commons-io", Version: "2.11.0", Location: "a.jar"},
		{Name: "org.apache.commons:commons-text", Version: "1.10.0", Location: "b.jar"},
		{Name: "org.apache.logging.log4j:log4j-core", Version: "2.0-beta9", Location: "c.jar"},
		{Name: "org.apache.logging.log4j:log4j-core", Version: "2.0-beta8", Location: "d.jar"},
	})
	want := []testenv.ExpectedFinding{
		{ID: "CVE-2021-44228", Package: "org.apache.logging.log4j:log4j-core c.jar", FixedVersion: "2.3.1"},
		{ID: "CVE-2024-47554", Package: "commons-io:commons-io a.jar", FixedVersion: "2.14.0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("oracle findings (-GHSA's ranges read by hand +oracle):\n%s", diff)
	}
}
