package cli_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestScanOfAnRPMDistributionWithoutLoadedAdvisoriesIsNeverClean(t *testing.T) {
	db, err := os.ReadFile(testenv.MarinerRPMDB(t))
	if err != nil {
		t.Fatal(err)
	}
	n := len(testenv.RPMQueryAll(t, testenv.MarinerRPMDB(t)))
	for _, tt := range []struct {
		name, osRelease, wantError, wantEcosystem string
	}{
		{"UBI 9 (ID rhel) without the Red Hat folder has its streams unmatched",
			"NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"9.5\"\nCPE_NAME=\"cpe:/o:redhat:enterprise_linux:9::baseos\"\n",
			"Red Hat:enterprise_linux:9::baseos: " + strconv.Itoa(n) + " packages not matched: no advisories loaded for it", "Red Hat"},
		{"SLES 15 SP5 without the SUSE folder is unmatched",
			"NAME=\"SLES\"\nID=\"sles\"\nVERSION_ID=\"15.5\"\n", "SUSE: " + strconv.Itoa(n) + " packages not matched: no advisories loaded for it", "SUSE"},
		{"Amazon Linux 2023 names amzn and no advisory source: OSV has no Amazon Linux ecosystem",
			"NAME=\"Amazon Linux\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n", "OS amzn 2023: no advisory source", "none"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			archive := testenv.DockerArchive(t, testenv.Tar(testenv.File("etc/os-release", tt.osRelease),
				testenv.File("var/lib/rpm/rpmdb.sqlite", string(db))))
			r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t),
				"--ecosystems", "AlmaLinux", "--format", "json", "--exit-code", "3")
			if r.code != 3 {
				t.Errorf("exit code = %d, want 3; stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			if len(got.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1", len(got.Platforms))
			}
			p := got.Platforms[0]
			if p.Status != "unsupported" || !strings.Contains(p.Error, tt.wantError) || p.AdvisorySource != "none" {
				t.Errorf("status %q (%s) advisory source %q, want unsupported, %q, none", p.Status, p.Error, p.AdvisorySource, tt.wantError)
			}
			if diff := cmp.Diff(map[string]int{tt.wantEcosystem: n}, p.Packages); diff != "" {
				t.Errorf("packages per ecosystem (-rpm -qa +scan):\n%s", diff)
			}
			if len(p.Findings) != 0 {
				t.Errorf("%d findings, want none", len(p.Findings))
			}
		})
	}
}
