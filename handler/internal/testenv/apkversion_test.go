package testenv

import (
	"strings"
	"testing"
)

// apkOrderings are known apk version orderings, "a op b", taken from apk-tools' own
// test table, test/version.data of github.com/alpinelinux/apk-tools (read at commit
// 50ab589e9a5a84592ee4c0ac5a49506bb6c552fc), one or more lines for each rule the
// comparator implements; the last group are the fixture's own versions against
// fixes in the shared Alpine secdb data, ordered by hand from the same rules.
var apkOrderings = []string{
	// digits, dotted components, components missing
	"2.34 > 0.1.0_alpha", "1.0.0 < 1.0.1", "1.2.1 > 1.2", "0.12.3 > 0.12", "1.0 > 0.99.3.20040818",
	"20050718-r2 > 3.9.8-r5", "2.6.15.20060110 < 2.6.16.20060323", "7.0.17 < 7.0.174", "1.2.12.1 < 1.2.13",
	"0.20070118 < 0.20070207_rc1", "8.1.2.20050715-r1 < 20030215", "1.0.0 = 1.0.0",
	// leading zeros: first component numeric, later ones zeros first
	"006 > 1.0.0", "013 < 014-r1", "021109-r3 < 20060512", "087-r1 < 103", "1.06-r6 < 006",
	"1.02.07 < 1.02.10-r1", "2.02.06 < 2.02.10", "1.2.07.8 < 1.2.12.04", "1.2.12.04 < 1.2.12.05",
	"0.01 < 0.06", "1.07-r1 < 1.07.5",
	// letters
	"2.3.0b-r1 < 2.3.0b-r2", "1.1a < 1.3a", "1.7 < 1.7b", "2.5.1-r8 < 2.5.1a-r1", "0.15.1b < 1.0.1",
	"0.9.8c-r1 < 0.9.8d", "1.6d > 1.2.07.8", "2.12r-r4 < 2.12r-r5", "0.59s-r11 < 0.65",
	// pre-release suffixes rank below the release, in order, numbered
	"1.1 > 1.1_alpha1", "1.3_alpha < 1.3_alpha2", "0.1.0_alpha2 > 0.1.0_alpha", "0.7.0 < 0.8_beta1",
	"0.13_beta4 < 0.13_beta5", "0.10.0 < 0.10.1_rc1", "2.0.0_rc3-r1 > 1.5", "1.00_beta2 > 0.9.2",
	"3.9_pre20060124 > 0.01", "2.1_pre20 < 2.1_pre26", "0.1_pre20060810 < 0.1_pre20060817",
	"0.1.0_alpha_pre2 < 0.1.0_alpha", "1.3_pre1-r1 < 1.3.2",
	// numbers wider than 32 bits
	"1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0",
	// post-release suffixes rank above the release
	"3.1_p16 < 3.1_p17", "4.2.52_p2-r1 < 4.2.52_p4-r2", "1.8.5 < 1.8.5_p2", "4.5_p1 < 4.5_p1-r1",
	"1.6.8_p12-r1 > 1.6.8_p9-r2", "1.0_p10-r0 > 1.0_p9-r0", "4.3_p2-r1 < 4.3_p2-r5",
	// revisions
	"1.0.4-r3 < 1.0.4-r4", "2.2.39-r1 > 1.0.4-r3", "1.3.5-r10 > 1.3.5-r8", "104-r11 > 104-r9",
	"1.2.2-r1 > 1.2.2", "2.8.9-r1 > 2.8.9", "1.23 < 1.23-r1", "0.10.0-r1 > 0.10.0", "1.3-r0 < 1.3.1-r0",
	"2.18.3-r10 > 1.05-r18", "5.2.1-r3 > 0.11.3",
	// invalid versions order by where they stop, as apk-tools does
	"1.0 < 1.0bc", "23_foo > 4_beta",
	// the fixture's versions against the shared data's fixes
	"1.0.2h-r1 < 1.0.2h-r2", "1.0.2h-r1 > 1.0.2h-r0", "1.0.2h-r1 < 1.0.2i-r0", "1.0.2h-r1 < 1.0.2k-r0",
	"1.1.14-r10 < 1.1.14-r11", "1.1.14-r10 > 1.1.14-r9", "1.24.2-r9 < 1.24.2-r10", "1.24.2-r9 < 1.24.2-r11",
	"1.2.8-r2 < 1.2.11-r0", "2.6.7-r0 < 2.6.10-r0",
}

func TestCompareApkVersionsFollowsApkTools(t *testing.T) {
	for _, line := range apkOrderings {
		a, op, b := splitOrdering(t, line)
		t.Run(line+" holds, and the reverse ordering with it", func(t *testing.T) {
			if !ApkVersionHolds(a, op, b) {
				t.Errorf("CompareApkVersions(%q, %q) = %d, want %s", a, b, CompareApkVersions(a, b), op)
			}
			reverse := map[string]string{"<": ">", ">": "<", "=": "="}[op]
			if !ApkVersionHolds(b, reverse, a) {
				t.Errorf("CompareApkVersions(%q, %q) = %d, want %s", b, a, CompareApkVersions(b, a), reverse)
			}
			if !ApkVersionHolds(a, "=", a) {
				t.Errorf("CompareApkVersions(%q, itself) = %d, want 0", a, CompareApkVersions(a, a))
			}
		})
	}
}

func TestValidApkVersion(t *testing.T) {
	for _, tt := range []struct {
		version string
		valid   bool
	}{
		{"1.0.2h-r1", true}, {"0.1.0_alpha_pre2", true}, {"1.0_p10-r0", true}, {"20050718-r2", true},
		{"1.0bc", false}, {"23_foo", false}, {"1.0-x", false}, {"1.0-r1a", false}, {"1.0_x1", false}, {"1..2", true},
	} {
		name := tt.version + " is valid"
		if !tt.valid {
			name = "«" + tt.version + "» is not valid"
		}
		t.Run(name, func(t *testing.T) {
			if got := ValidApkVersion(tt.version); got != tt.valid {
				t.Errorf("ValidApkVersion(%q) = %v, want %v", tt.version, got, tt.valid)
			}
		})
	}
}

// splitOrdering splits "a op b".
func splitOrdering(t *testing.T, line string) (a, op, b string) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 3 {
		t.Fatalf("ordering %q is not «a op b»", line)
	}
	return f[0], f[1], f[2]
}
