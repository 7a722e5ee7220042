package match_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// goRecord is an OSV record on Go module example.com/lib fixed in fixed.
func goRecord(id, aliases, fixed string) string {
	return `{"schema_version":"1.6.0","id":"` + id + `","modified":"2099-01-01T00:00:00Z","aliases":[` + aliases + `],
"summary":"Synthetic: one flaw in example.com/lib, as ` + id + ` records it",
"affected":[{"package":{"ecosystem":"Go","name":"example.com/lib"},
"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"` + fixed + `"}]}]}]}`
}

func TestAGoAndAGitHubRecordOfOneCVEOnOneModuleAreOneFinding(t *testing.T) {
	dir := t.TempDir()
	testenv.WriteOSVExport(t, dir, "Go", map[string]string{
		// The Go team's record names the GitHub one; GitHub's names only the CVE.
		"GO-2099-0100.json":        goRecord("GO-2099-0100", `"CVE-2099-0100","GHSA-gggg-oooo-1111"`, "1.2.3"),
		"GHSA-gggg-oooo-1111.json": goRecord("GHSA-gggg-oooo-1111", `"CVE-2099-0100"`, "1.2.4"),
	})
	idx, err := advisory.Load(context.Background(), dir, []string{"Go"})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, f := range match.Match(idx, []inventory.Package{gomod("example.com/lib", "1.2.0", "app/server")}).Findings {
		got = append(got, f.ID+" "+strings.Join(f.Aliases, ",")+" "+f.FixedVersion)
	}
	// One finding, the CVE, with both ids, and the higher fix: 1.2.3 does not
	// resolve the GitHub record.
	if diff := cmp.Diff([]string{"CVE-2099-0100 GHSA-gggg-oooo-1111,GO-2099-0100 1.2.4"}, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
