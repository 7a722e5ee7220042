package match_test

import (
	"strings"
	"testing"

	"github.com/google/osv-scalibr/semantic"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// TestDebianOrderingAgreesWithDpkg shows that osv-scalibr's Debian ordering, which
// Match relies on, agrees with dpkg on the version shapes bookworm uses.
func TestDebianOrderingAgreesWithDpkg(t *testing.T) {
	d := newDpkg(t)
	pairs := [][2]string{
		{"1.0-1", "1.0-1"},
		{"1:1.0-1", "2.0-1"},
		{"1:1.0-1", "1:1.0-1"},
		{"2:1.0", "1:9.9"},
		{"0:1.0-1", "1.0-1"},
		{"3.0.13-1~deb12u1", "3.0.13-1"},
		{"3.0.17-1~deb12u3", "3.0.17-1~deb12u2"},
		{"3.0.11-1~deb12u2", "3.0.13-1~deb12u1"},
		{"1.0~rc1-1", "1.0-1"},
		{"1.0~~a", "1.0~"},
		{"2.5.0-1+deb12u1", "2.5.0-1"},
		{"2.5.0-1+deb12u10", "2.5.0-1+deb12u9"},
		{"5.36.0-7+deb12u3", "5.36.0-7+deb12u2"},
		{"2.36-9+deb12u10", "2.36-9+deb12u9"},
		{"1.2.13.dfsg-1+b1", "1.2.13.dfsg-1"},
		{"1.2.13.dfsg-1+b1", "1.2.13.dfsg-1+deb12u1"},
		{"1:1.2.13.dfsg-1", "1.2.13.dfsg-1+deb12u1"},
		{"252.38-1~deb12u1", "252.39-1~deb12u1"},
		{"2026b-0+deb12u1", "2025b-0+deb12u1"},
		{"2026a-0+deb12u1", "2026b-0+deb12u1"},
		{"7.88.1-10+deb12u12", "7.88.1-10+deb12u8"},
		{"1.0a", "1.0+"},
		{"1.0", "1.0-0"},
		{"10.42-1", "10.42-1.1"},
		{"2.6.1", "2.6.10"},
		{"0", "0.1"},
		{"1.0+dfsg-1", "1.0-1"},
		{"9.2p1-2+deb12u3", "9.2p1-2+deb12u10"},
	}
	for _, p := range pairs {
		a, b := p[0], p[1]
		t.Run(a+" against "+b, func(t *testing.T) {
			want := d.compare(a, b)
			v, err := semantic.Parse(a, "Debian")
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.CompareStr(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("semantic compares %s to %s as %d, dpkg as %d", a, b, got, want)
			}
		})
	}
}

// TestAlpineOrderingAgreesWithApkTools shows that osv-scalibr's Alpine ordering,
// which Match relies on for Alpine, Wolfi and Chainguard, agrees with the orderings
// apk-tools' own tests list (testenv.ApkOrderings), on the versions apk-tools
// accepts.
func TestAlpineOrderingAgreesWithApkTools(t *testing.T) {
	for _, line := range testenv.ApkOrderings {
		f := strings.Fields(line)
		a, op, b := f[0], f[1], f[2]
		if !testenv.ValidApkVersion(a) || !testenv.ValidApkVersion(b) {
			continue
		}
		t.Run(line+" in osv-scalibr's Alpine ordering", func(t *testing.T) {
			va, err := semantic.Parse(a, "Alpine")
			if err != nil {
				t.Fatalf("parsing %q: %v", a, err)
			}
			c, err := va.CompareStr(b)
			if err != nil {
				t.Fatalf("comparing %q with %q: %v", a, b, err)
			}
			want := map[string]int{"<": -1, "=": 0, ">": 1}[op]
			if max(-1, min(c, 1)) != want {
				t.Errorf("%q vs %q = %d, apk-tools says %s", a, b, c, op)
			}
		})
	}
}
