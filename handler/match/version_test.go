package match_test

import (
	"testing"

	"github.com/google/osv-scalibr/semantic"
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
