package infracheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDeployFailsFastWithoutAzureCLI(t *testing.T) {
	script := filepath.Join(repoRoot(t), "scripts", "deploy.sh")
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	// notLoggedIn is an `az` that answers like the real one does before `az login`.
	notLoggedIn := "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n"
	tests := []struct {
		name    string
		fakeAz  string // empty: no az on PATH
		args    []string
		wantErr string
	}{
		{"without arguments it prints usage", "", nil, "usage: scripts/deploy.sh RESOURCE_GROUP [PARAMS]"},
		{"without az it says the CLI is missing", "", []string{"rg-tidewatch"}, "Azure CLI (az) is not installed"},
		{"with az logged out it says to log in", notLoggedIn, []string{"rg-tidewatch"}, "not logged in: run 'az login'"},
		{"a missing parameters file is named", notLoggedIn, []string{"rg-tidewatch", "nope.bicepparam"}, "parameters file nope.bicepparam not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			for _, tool := range []string{"dirname", "date"} {
				if p, err := exec.LookPath(tool); err == nil {
					if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tc.fakeAz != "" {
				if err := os.WriteFile(filepath.Join(bin, "az"), []byte(tc.fakeAz), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bash, append([]string{script}, tc.args...)...)
			cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir()}
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("deploy.sh succeeded; output:\n%s", out)
			}
			if !strings.Contains(string(out), tc.wantErr) {
				t.Errorf("output %q does not contain %q", out, tc.wantErr)
			}
		})
	}
}
