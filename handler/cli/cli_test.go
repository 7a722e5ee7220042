package cli_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/tidewatch/tidewatch/handler/cli"
)

// cliRun is the outcome of one in-process cli.Run.
type cliRun struct {
	code           int
	stdout, stderr string
}

// runCLI runs the tidewatch CLI in-process with args, stdin as standard input and an
// empty environment.
func runCLI(t *testing.T, stdin string, args ...string) cliRun {
	t.Helper()
	return runCLIWithEnviron(t, []string{}, stdin, args...)
}

// runCLIWithEnviron is runCLI with the given environment ("KEY=value" entries).
func runCLIWithEnviron(t *testing.T, environ []string, stdin string, args ...string) cliRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), cli.Env{
		Args:    args,
		Environ: environ,
		Stdin:   strings.NewReader(stdin),
		Stdout:  &stdout,
		Stderr:  &stderr,
		Version: "1.2.3-test",
	})
	return cliRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// scanCache runs each distinct argument list once per test binary, so subtests that
// look at the same scan from different angles share it (a scan loads all advisories).
type scanCache struct {
	mu   sync.Mutex
	runs map[string]cliRun
}

var scans = &scanCache{runs: map[string]cliRun{}}

func (c *scanCache) run(t *testing.T, args ...string) cliRun {
	t.Helper()
	key := strings.Join(args, "\x00")
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.runs[key]; ok {
		return r
	}
	r := runCLI(t, "", args...)
	c.runs[key] = r
	return r
}

func TestRunDispatchesCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr []string
	}{
		{name: "no command prints usage and is a usage error", args: nil, wantCode: 2,
			wantStderr: []string{"usage: tidewatch", "scan"}},
		{name: "help prints usage and succeeds", args: []string{"help"}, wantCode: 0,
			wantStderr: []string{"usage: tidewatch", "findings"}},
		{name: "an unknown command is a usage error naming it", args: []string{"frobnicate"}, wantCode: 2,
			wantStderr: []string{`unknown command "frobnicate"`}},
		{name: "version prints the stamped version", args: []string{"version"}, wantCode: 0,
			wantStdout: "tidewatch 1.2.3-test\n"},
		{name: "scan without an image or archive is a usage error", args: []string{"scan"}, wantCode: 2,
			wantStderr: []string{"exactly one of IMAGE or --archive"}},
		{name: "scan with both an image and an archive is a usage error",
			args: []string{"scan", "127.0.0.1:1/a:1", "--archive", "x.tar"}, wantCode: 2,
			wantStderr: []string{"exactly one of IMAGE or --archive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if tt.wantStdout != "" && r.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.wantStdout)
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not mention %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}
