package pipeline

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/store"
)

func TestFindingRowsCarrySeverityScoreVectorAndSource(t *testing.T) {
	tests := []struct {
		name string
		in   match.Finding
		want store.Finding
	}{
		{
			"a scored finding keeps its score, vector and where they came from",
			match.Finding{ID: "CVE-2016-2182", Severity: match.SeverityCritical,
				CVSS:           &match.CVSS{Version: "3.0", Vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8},
				SeveritySource: "CVSS_V3 from CVE-2016-2182"},
			store.Finding{VulnerabilityID: "CVE-2016-2182", Severity: "CRITICAL", CvssScore: 9.8,
				CvssVector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", SeveritySource: "CVSS_V3 from CVE-2016-2182"},
		},
		{
			"a rated finding has a source and no vector",
			match.Finding{ID: "CVE-2024-1000", Severity: match.SeverityLow, SeveritySource: "debian urgency"},
			store.Finding{VulnerabilityID: "CVE-2024-1000", Severity: "LOW", SeveritySource: "debian urgency"},
		},
		{
			"an unknown finding has neither",
			match.Finding{ID: "CVE-2024-1200", Severity: match.SeverityUnknown},
			store.Finding{VulnerabilityID: "CVE-2024-1200", Severity: "UNKNOWN"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := findingRows([]match.Finding{tt.in})
			if diff := cmp.Diff([]store.Finding{tt.want}, got); diff != "" {
				t.Errorf("findingRows() (-want +got):\n%s", diff)
			}
		})
	}
}
