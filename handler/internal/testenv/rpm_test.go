package testenv

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRPMVersionsOrderAsRPMDocumentsIt(t *testing.T) {
	v := NewRPMVersions(t)
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"an epoch outranks any version", "1:1.0-1", "9.9-9", 1},
		{"a missing epoch is epoch 0", "0:2.34-28.el9_0", "2.34-28.el9_0", 0},
		{"a longer release with the same prefix is newer", "2.34-28.el9_0", "2.34-28.el9_0.2", -1},
		{"numeric segments compare as numbers", "1.10-1", "1.9-1", 1},
		{"a tilde sorts before anything", "1.0~rc1-1", "1.0-1", -1},
		{"letters sort before digits", "1.0a-1", "1.01-1", -1},
	}
	var pairs [][2]string
	var want []int
	for _, tt := range tests {
		pairs = append(pairs, [2]string{tt.a, tt.b})
		want = append(want, tt.want)
	}
	got := v.CompareAll(t, pairs)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got[i] != want[i] {
				t.Errorf("labelCompare(%q, %q) = %d, want %d", tt.a, tt.b, got[i], want[i])
			}
		})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestRPMQueryAllReadsTheMarinerDatabase(t *testing.T) {
	pkgs := RPMQueryAll(t, MarinerRPMDB(t))
	found := map[string]string{}
	for _, p := range pkgs {
		found[p.Package] = p.EVR()
	}
	// SOURCES.md: 129 packages, among them mariner-release 2.0-4.cm2, openssl 1.1.1k-7.cm2, glibc 2.34-2.cm2.
	if len(pkgs) != 129 || found["mariner-release"] != "2.0-4.cm2" || found["glibc"] != "2.34-2.cm2" {
		t.Errorf("rpm -qa: %d packages, mariner-release %q, glibc %q", len(pkgs), found["mariner-release"], found["glibc"])
	}
}
