package match

import (
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// publishedScore is one row of testdata/nvd-published-scores.csv: NVD's published
// base score for one vector of one GIT record, and the fkie-cad/nvd-json-data-feeds
// commit it was read at.
type publishedScore struct {
	cve, kind, vector string
	score             float64
	commit            string
}

func readPublishedScores(t *testing.T) []publishedScore {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "nvd-published-scores.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.FieldsPerRecord = 5
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]publishedScore, 0, len(rows))
	for _, row := range rows {
		score, err := strconv.ParseFloat(row[3], 64)
		if err != nil {
			t.Fatalf("row %v: %v", row, err)
		}
		out = append(out, publishedScore{cve: row[0], kind: row[1], vector: row[2], score: score, commit: row[4]})
	}
	return out
}

func TestEveryVectorOfTheSharedNVDRecordsScoresAsNVDPublished(t *testing.T) {
	published := readPublishedScores(t)
	records := testenv.GITSeverities(t)
	commits := testenv.GITCommits(t)
	for _, p := range published {
		t.Run(p.cve+" "+p.kind+" scores "+strconv.FormatFloat(p.score, 'f', 1, 64)+" as NVD published", func(t *testing.T) {
			found := false
			for _, s := range records[p.cve] {
				found = found || (s.Type == p.kind && s.Score == p.vector)
			}
			if !found {
				t.Fatalf("GIT/%s.json has no %s %s; the testdata row is not copied from the record", p.cve, p.kind, p.vector)
			}
			if p.commit != commits[p.cve] {
				t.Errorf("row read at fkie commit %s, but GIT/%s.json was converted at %s", p.commit, p.cve, commits[p.cve])
			}
			got, err := scoreVector(p.kind, p.vector)
			if err != nil {
				t.Fatal(err)
			}
			if got.Score != p.score || got.Vector != p.vector {
				t.Errorf("scoreVector(%s, %s) = %+v, want score %.1f", p.kind, p.vector, got, p.score)
			}
		})
	}
	t.Run("every vector of every GIT record has exactly one row with NVD's published score", func(t *testing.T) {
		rows := map[[3]string]int{}
		for _, p := range published {
			rows[[3]string{p.cve, p.kind, p.vector}]++
		}
		var missing, doubled []string
		vectors := 0
		for id, entries := range records {
			for _, s := range entries {
				vectors++
				switch rows[[3]string{id, s.Type, s.Score}] {
				case 0:
					missing = append(missing, id+" "+s.Type+" "+s.Score)
				case 1:
				default:
					doubled = append(doubled, id+" "+s.Type+" "+s.Score)
				}
			}
		}
		slices.Sort(missing)
		slices.Sort(doubled)
		if diff := cmp.Diff([]string(nil), missing); diff != "" {
			t.Errorf("GIT vectors without a row in testdata (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string(nil), doubled); diff != "" {
			t.Errorf("GIT vectors with more than one row in testdata (-want +got):\n%s", diff)
		}
		if vectors == 0 || len(published) != vectors {
			t.Errorf("%d rows in testdata for %d vectors in the GIT records", len(published), vectors)
		}
	})
}

// Scores from the CVSS specifications' own examples (first.org), not from NVD.
func TestScoreVectorScoresEveryCVSSVersion(t *testing.T) {
	for _, tt := range []struct {
		name, kind, vector, version string
		score                       float64
	}{
		// CVSS v3.1 specification examples document, CVE-2014-0160 (Heartbleed): 7.5.
		{"v3.1 Heartbleed", "CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "3.1", 7.5},
		// Temporal metrics do not change the base score.
		{"v3.1 with temporal metrics", "CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H/E:F/RL:O", "3.1", 7.5},
		// CVSS v3.0 specification examples, CVE-2013-1937 (phpMyAdmin reflected XSS): 6.1.
		{"v3.0 reflected XSS", "CVSS_V3", "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "3.0", 6.1},
		// CVSS v2 guide, CVE-2002-0392 (Apache chunked encoding): 7.8.
		{"v2 without prefix", "CVSS_V2", "AV:N/AC:L/Au:N/C:N/I:N/A:C", "2.0", 7.8},
		// CVSS v4.0 calculator (first.org), every base impact High over the network: 9.3.
		{"v4.0", "CVSS_V4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0", 9.3},
		{"v3.1 without impact", "CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "3.1", 0},
	} {
		t.Run(tt.name+" scores "+strconv.FormatFloat(tt.score, 'f', 1, 64), func(t *testing.T) {
			got, err := scoreVector(tt.kind, tt.vector)
			if err != nil {
				t.Fatal(err)
			}
			if *got != (CVSS{Version: tt.version, Vector: tt.vector, Score: tt.score}) {
				t.Errorf("scoreVector() = %+v, want version %s score %.1f", got, tt.version, tt.score)
			}
		})
	}
}

func TestScoreVectorRejectsMalformedVectors(t *testing.T) {
	for _, tt := range []struct{ kind, vector string }{
		{"CVSS_V3", ""},
		{"CVSS_V3", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
		{"CVSS_V3", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
		{"CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H"},
		{"CVSS_V3", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
		{"CVSS_V3", "CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
		{"CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A"},
		{"CVSS_V2", "AV:N/AC:L/Au:N/C:P/I:P"},
		{"CVSS_V4", "CVSS:4.0/AV:N"},
		{"CVSS_V4", "9.3"},
		{"Ubuntu", "high"},
	} {
		t.Run("rejects "+tt.kind+" "+tt.vector, func(t *testing.T) {
			if c, err := scoreVector(tt.kind, tt.vector); !errors.Is(err, errBadVector) {
				t.Errorf("scoreVector(%s, %q) = %+v, %v; want errBadVector", tt.kind, tt.vector, c, err)
			}
		})
	}
}

func TestCVSSBandsFollowEachVersionsRatings(t *testing.T) {
	for _, tt := range []struct {
		version string
		score   float64
		want    string
	}{
		{"3.1", 10, SeverityCritical}, {"3.1", 9.0, SeverityCritical}, {"3.1", 8.9, SeverityHigh}, {"3.1", 7.0, SeverityHigh},
		{"3.1", 6.9, SeverityMedium}, {"3.1", 4.0, SeverityMedium}, {"3.1", 3.9, SeverityLow}, {"3.1", 0.1, SeverityLow},
		{"4.0", 9.3, SeverityCritical}, {"3.0", 9.8, SeverityCritical},
		{"2.0", 10, SeverityHigh}, {"2.0", 7.0, SeverityHigh}, {"2.0", 6.9, SeverityMedium}, {"2.0", 4.0, SeverityMedium}, {"2.0", 3.9, SeverityLow},
	} {
		name := "CVSS " + tt.version + " " + strconv.FormatFloat(tt.score, 'f', 1, 64) + " is " + strings.ToLower(tt.want)
		t.Run(name, func(t *testing.T) {
			if got := cvssSeverity(&CVSS{Version: tt.version, Score: tt.score}); got != tt.want {
				t.Errorf("cvssSeverity() = %s, want %s", got, tt.want)
			}
		})
	}
}
