package testenv

import (
	"strings"
	"testing"
)

func TestCompareApkVersionsFollowsApkTools(t *testing.T) {
	for _, line := range ApkOrderings {
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
