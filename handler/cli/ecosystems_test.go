package cli_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestScanLoadsTheConfiguredEcosystems(t *testing.T) {
	minbase := testenv.Image(t, "debian12-minbase")
	advisories := testenv.Advisories(t)
	packages := len(readSidecar(t, "debian12-minbase").DpkgInventory["linux/amd64"].Packages)
	tests := []struct {
		name       string
		environ    []string
		flags      []string
		wantCode   int
		wantStatus string
		wantStderr []string
	}{
		{name: "the shared advisory set named in TIDEWATCH_ECOSYSTEMS loads",
			environ:  []string{"TIDEWATCH_ECOSYSTEMS=Debian,Go,npm,PyPI,Alpine,AlmaLinux"},
			wantCode: 0, wantStatus: "scanned"},
		{name: "TIDEWATCH_ECOSYSTEMS without Debian leaves Debian packages unmatched, never clean",
			environ: []string{"TIDEWATCH_ECOSYSTEMS=Go"}, flags: []string{"--exit-code", "5"},
			wantCode: 5, wantStatus: "unsupported",
			wantStderr: []string{"Debian:12: " + itoa(packages) + " packages not matched: no advisories loaded for it"}},
		{name: "the --ecosystems flag overrides TIDEWATCH_ECOSYSTEMS",
			environ: []string{"TIDEWATCH_ECOSYSTEMS=Go"}, flags: []string{"--ecosystems", "Debian"},
			wantCode: 0, wantStatus: "scanned"},
		{name: "an ecosystem folder missing from the advisory directory is an error naming it",
			flags: []string{"--ecosystems", "Debian,Maven"}, wantCode: 1, wantStderr: []string{"Maven/all.zip"}},
		{name: "a name that is not an OSV ecosystem is a usage error",
			flags: []string{"--ecosystems", "Debian,Rust"}, wantCode: 2, wantStderr: []string{`"Rust" is not an OSV ecosystem`}},
		{name: "a misspelt TIDEWATCH_ECOSYSTEMS is a usage error naming the setting",
			environ: []string{"TIDEWATCH_ECOSYSTEMS=debian"}, wantCode: 2,
			wantStderr: []string{"TIDEWATCH_ECOSYSTEMS", `spelled "Debian"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", "--archive", minbase, "--advisories", advisories, "--format", "json"}, tt.flags...)
			r := runCLIWithEnviron(t, tt.environ, "", args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not mention %q:\n%s", s, r.stderr)
				}
			}
			if tt.wantStatus == "" {
				return
			}
			var statuses []string
			for _, p := range decodeScan(t, r).Platforms {
				statuses = append(statuses, p.Status)
			}
			if diff := cmp.Diff([]string{tt.wantStatus}, statuses); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanJSONNeverPrintsNullArrays(t *testing.T) {
	for _, tt := range []struct {
		image string
		flags []string
		want  []string
	}{
		{"alpine-3.4", nil, []string{`"findings": []`, `"skipped": []`}},
		{"alpine-3.4", []string{"--ecosystems", "Alpine"}, []string{`"skipped": []`, `"unmatched": []`}},
		{"go-app", nil, []string{`"os": null`, `"skipped": []`}},
	} {
		t.Run(tt.image+" "+strings.Join(tt.flags, " ")+" prints "+strings.Join(tt.want, " and "), func(t *testing.T) {
			r := scanArchive(t, tt.image, append([]string{"--format", "json"}, tt.flags...)...)
			for _, s := range tt.want {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("JSON lacks %s:\n%s", s, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "null") && tt.image != "go-app" {
				t.Errorf("JSON holds a null:\n%s", r.stdout)
			}
		})
	}
}
