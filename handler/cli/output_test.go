package cli_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScanTableListsEveryPlatformAndFinding(t *testing.T) {
	const image = "debian12-multiarch"
	truth := readSidecar(t, image)
	table := scanArchive(t, image)
	if table.code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", table.code, table.stderr)
	}
	lines := strings.Split(table.stdout, "\n")
	header := regexp.MustCompile(`^ID\s+SEVERITY\s+PACKAGE\s+INSTALLED\s+FIXED\s+STATUS\s+LAYER\s+LOCATION\s*$`)

	for _, m := range truth.Manifests {
		t.Run(m.Platform+" has a summary line with its digest", func(t *testing.T) {
			for _, l := range lines {
				if strings.HasPrefix(l, m.Platform+" ") && strings.Contains(l, m.ManifestDigest) {
					return
				}
			}
			t.Errorf("no line starts with %q and holds %s:\n%s", m.Platform, m.ManifestDigest, table.stdout)
		})
	}
	t.Run("each platform block has a header row", func(t *testing.T) {
		n := 0
		for _, l := range lines {
			if header.MatchString(l) {
				n++
			}
		}
		if n != len(truth.Manifests) {
			t.Errorf("%d header rows, want one per platform (%d):\n%s", n, len(truth.Manifests), table.stdout)
		}
	})
	t.Run("each JSON finding has a table row", func(t *testing.T) {
		got := decodeScan(t, scanArchive(t, image, "--format", "json"))
		rows := map[string]bool{}
		for _, l := range lines {
			if f := strings.Fields(l); len(f) >= 3 {
				rows[f[0]+" "+f[2]] = true
			}
		}
		n := 0
		for _, p := range got.Platforms {
			for _, raw := range p.Findings {
				f := decodeFinding(t, raw)
				n++
				if !rows[f.ID+" "+f.Package] {
					t.Errorf("no table row for %s on %s", f.ID, f.Package)
				}
			}
		}
		if n == 0 {
			t.Fatal("the JSON scan has no findings to look for")
		}
	})
}

func TestScanRejectsBadFlags(t *testing.T) {
	archive := "testdata/not-an-image.txt" // never opened: flags are checked first
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{name: "an unknown format", args: []string{"--format", "xml"}, wantStderr: `unknown --format "xml"`},
		{name: "an unknown severity", args: []string{"--severity", "HIGH,SEVERE"}, wantStderr: `unknown severity "SEVERE"`},
		{name: "an undefined flag", args: []string{"--colour"}, wantStderr: "flag provided but not defined: -colour"},
		{name: "a password from stdin without a username", args: []string{"--password-stdin"},
			wantStderr: "--password-stdin needs --username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", "--archive", archive, "--advisories", "testdata/advisories-zero-records"}, tt.args...)
			r := runCLI(t, "pw\n", args...)
			if r.code != 2 {
				t.Errorf("exit code = %d, want 2 (usage)", r.code)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr does not say %q:\n%s", tt.wantStderr, r.stderr)
			}
			if diff := cmp.Diff("", r.stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
		})
	}
}

func countFindings(t *testing.T, s scanJSON) int {
	t.Helper()
	n := 0
	for _, p := range s.Platforms {
		n += len(p.Findings)
	}
	return n
}
