package inventory

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSourceRPMNamesSplitIntoNameAndVersion(t *testing.T) {
	tests := []struct {
		name, file, wantName, wantVersion string
	}{
		{"a source rpm splits at its last two dashes", "glibc-2.34-28.el9_0.src.rpm", "glibc", "2.34-28.el9_0"},
		{"dashes in the name stay in the name", "python-setuptools-53.0.0-10.el9.src.rpm", "python-setuptools", "53.0.0-10.el9"},
		{"a nosrc rpm splits the same way", "foo-1.0-1.nosrc.rpm", "foo", "1.0-1"},
		{"no source rpm gives nothing", "", "", ""},
		{"a name without version and release gives nothing", "foo-1.src.rpm", "", ""},
		{"a file that is not a source rpm gives nothing", "foo-1.0-1.x86_64.rpm", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, version := sourceRPM(tt.file)
			if diff := cmp.Diff([]string{tt.wantName, tt.wantVersion}, []string{name, version}); diff != "" {
				t.Errorf("sourceRPM(%q) (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}
