package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// severityJSON is what a JSON finding says about its severity.
type severityJSON struct {
	ID       string `json:"id"`
	Package  string `json:"package"`
	Severity string `json:"severity"`
	CVSS     *struct {
		Version string  `json:"version"`
		Vector  string  `json:"vector"`
		Score   float64 `json:"score"`
	} `json:"cvss"`
	SeveritySource *string `json:"severitySource"`
}

func scanSeverities(t *testing.T, r cliRun) []severityJSON {
	t.Helper()
	var out []severityJSON
	for _, p := range decodeScan(t, r).Platforms {
		for _, raw := range p.Findings {
			var f severityJSON
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatalf("decoding finding: %v: %s", err, raw)
			}
			if f.SeveritySource == nil {
				t.Fatalf("finding lacks severitySource: %s", raw)
			}
			out = append(out, f)
		}
	}
	return out
}

// nvdVectors lists the CVE ids of the shared GIT export whose record states at
// least one CVSS vector, with those vectors.
func nvdVectors(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for id, severities := range testenv.GITSeverities(t) {
		for _, s := range severities {
			if strings.HasPrefix(s.Type, "CVSS_") {
				out[id] = append(out[id], s.Score)
			}
		}
	}
	return out
}

func TestScanGivesEveryFindingWhoseCVEHasAnNVDRecordItsSeverity(t *testing.T) {
	nvd := nvdVectors(t)
	findings := scanSeverities(t, scanArchive(t, "debian12-minbase", "--format", "json"))
	rated := 0
	for _, f := range findings {
		vectors, scored := nvd[f.ID]
		if !scored {
			// The shared Debian records carry no CVSS and no tracker urgency.
			if f.Severity != "UNKNOWN" || f.CVSS != nil || *f.SeveritySource != "" {
				t.Errorf("%s on %s: severity %s from %q; its CVE has no scored NVD record, want UNKNOWN", f.ID, f.Package, f.Severity, *f.SeveritySource)
			}
			continue
		}
		rated++
		switch {
		case f.Severity == "UNKNOWN" || f.CVSS == nil:
			t.Errorf("%s on %s is UNKNOWN; GIT/%s.json states %v", f.ID, f.Package, f.ID, vectors)
		case !strings.HasSuffix(*f.SeveritySource, " from "+f.ID):
			t.Errorf("%s on %s: severitySource %q, want the CVE's NVD record", f.ID, f.Package, *f.SeveritySource)
		case !strings.Contains(strings.Join(vectors, " "), f.CVSS.Vector):
			t.Errorf("%s on %s: vector %s is not one of the NVD record's %v", f.ID, f.Package, f.CVSS.Vector, vectors)
		}
	}
	if rated == 0 {
		t.Fatal("no finding of debian12-minbase has an NVD record in GIT; the fixture changed")
	}
	t.Logf("%d of %d findings rated from GIT", rated, len(findings))
}

func TestScanExitCodeCountsUnknownFindingsUnlessIgnored(t *testing.T) {
	const image = "debian12-minbase"
	bySeverity := map[string]int{}
	for _, f := range scanSeverities(t, scanArchive(t, image, "--format", "json")) {
		bySeverity[f.Severity]++
	}
	if bySeverity["UNKNOWN"] == 0 || bySeverity["CRITICAL"] == 0 || bySeverity["LOW"] != 0 {
		t.Fatalf("the fixture changed: %v; the cases need UNKNOWN and CRITICAL findings and no LOW one", bySeverity)
	}
	total := 0
	for _, n := range bySeverity {
		total += n
	}
	tests := []struct {
		name         string
		flags        []string
		wantCode     int
		wantFindings int
	}{
		{name: "--severity LOW with nothing low still fails on the UNKNOWN findings, and reports them",
			flags: []string{"--severity", "LOW", "--exit-code", "3"}, wantCode: 3, wantFindings: bySeverity["UNKNOWN"]},
		{name: "--severity LOW --ignore-unknown with nothing low passes",
			flags: []string{"--severity", "LOW", "--ignore-unknown", "--exit-code", "3"}, wantCode: 0, wantFindings: 0},
		{name: "--severity CRITICAL fails and reports the critical and the UNKNOWN findings",
			flags: []string{"--severity", "CRITICAL", "--exit-code", "3"}, wantCode: 3, wantFindings: bySeverity["CRITICAL"] + bySeverity["UNKNOWN"]},
		{name: "--severity CRITICAL --ignore-unknown fails on the critical findings alone",
			flags: []string{"--severity", "critical", "--ignore-unknown", "--exit-code", "3"}, wantCode: 3, wantFindings: bySeverity["CRITICAL"]},
		{name: "--severity UNKNOWN keeps only the UNKNOWN findings",
			flags: []string{"--severity", "UNKNOWN", "--exit-code", "3"}, wantCode: 3, wantFindings: bySeverity["UNKNOWN"]},
		{name: "lowercase severities with spaces are accepted",
			flags: []string{"--severity", "high, medium"}, wantCode: 0, wantFindings: bySeverity["HIGH"] + bySeverity["MEDIUM"] + bySeverity["UNKNOWN"]},
		{name: "--ignore-unknown alone leaves out only the UNKNOWN findings",
			flags: []string{"--ignore-unknown"}, wantCode: 0, wantFindings: total - bySeverity["UNKNOWN"]},
		{name: "findings without --exit-code exit 0",
			flags: nil, wantCode: 0, wantFindings: total},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := scanArchive(t, image, append([]string{"--format", "json"}, tt.flags...)...)
			if r.code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if got := countFindings(t, decodeScan(t, r)); got != tt.wantFindings {
				t.Errorf("%d findings, want %d", got, tt.wantFindings)
			}
		})
	}
}

func TestScanWithoutTheSeverityFolderLeavesFindingsUnknown(t *testing.T) {
	r := scanArchive(t, "debian12-minbase", "--format", "json", "--severity-source", "NoSuchFolder")
	if r.code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	findings := scanSeverities(t, r)
	if len(findings) == 0 {
		t.Fatal("no findings")
	}
	for _, f := range findings {
		if f.Severity != "UNKNOWN" {
			t.Errorf("%s on %s: severity %s from %q without a severity folder", f.ID, f.Package, f.Severity, *f.SeveritySource)
		}
	}
}
