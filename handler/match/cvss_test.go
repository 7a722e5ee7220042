package match

import "testing"

// Scores are NVD's published CVSS v3.x base scores for the named CVEs.
func TestCVSS3ScoreMatchesNVD(t *testing.T) {
	tests := []struct {
		cve, vector string
		version     string
		score       float64
	}{
		{"CVE-2021-44228", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "3.1", 10.0},
		{"CVE-2014-0160", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "3.1", 7.5},
		{"CVE-2021-3156", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "3.1", 7.8},
		{"CVE-2023-4863", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", "3.1", 8.8},
		{"CVE-2024-6387", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", 8.1},
		{"CVE-2021-44832", "CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:H", "3.1", 6.6},
		{"CVE-2020-1971", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", "3.1", 5.9},
		{"CVE-2020-11022", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "3.1", 6.1},
		{"CVE-2011-3374", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:L/A:N", "3.1", 3.7},
		{"CVE-2016-2183", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "3.0", 7.5},
		{"CVE-2022-0778 with temporal metrics appended", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H/E:F/RL:O", "3.1", 7.5},
	}
	for _, tt := range tests {
		t.Run(tt.cve+" scores "+tt.vector, func(t *testing.T) {
			version, score, err := cvss3Score(tt.vector)
			if err != nil {
				t.Fatal(err)
			}
			if version != tt.version || score != tt.score {
				t.Errorf("cvss3Score() = %s %.1f, want %s %.1f", version, score, tt.version, tt.score)
			}
		})
	}
}

func TestCVSS3ScoreRejectsMalformedVectors(t *testing.T) {
	for _, vector := range []string{
		"",
		"AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		"CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
		"CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		"CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A",
	} {
		t.Run("rejects "+vector, func(t *testing.T) {
			if _, _, err := cvss3Score(vector); err == nil {
				t.Errorf("cvss3Score(%q) succeeded", vector)
			}
		})
	}
	t.Run("a vector without impact scores zero", func(t *testing.T) {
		_, score, err := cvss3Score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N")
		if err != nil || score != 0 {
			t.Errorf("cvss3Score() = %v, %v; want 0", score, err)
		}
	})
}

func TestScoreBands(t *testing.T) {
	for _, tt := range []struct {
		score float64
		want  string
	}{{10, SeverityCritical}, {9.0, SeverityCritical}, {8.9, SeverityHigh}, {7.0, SeverityHigh}, {6.9, SeverityMedium}, {4.0, SeverityMedium}, {3.9, SeverityLow}, {0.1, SeverityLow}} {
		if got := scoreSeverity(tt.score); got != tt.want {
			t.Errorf("scoreSeverity(%.1f) = %s, want %s", tt.score, got, tt.want)
		}
	}
}
