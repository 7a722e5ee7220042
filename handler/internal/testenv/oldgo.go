package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// oldGoBinary is testdata/oldgo/oldgo: built by testdata/oldgo/build.sh with the
// go1.22.0 toolchain, linking golang.org/x/text v0.3.7.
const oldGoBinary = "handler/internal/testenv/testdata/oldgo/oldgo"

// OldGoBinary returns the body of the old-toolchain fixture binary and what
// `go version -m` (the Go toolchain's own reader, not Tidewatch) prints for it.
func OldGoBinary(t testing.TB) (body string, info GoBinary) {
	t.Helper()
	path := filepath.Join(RepoRoot(t), oldGoBinary)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the old-toolchain fixture: %v", err)
	}
	out, err := exec.Command("go", "version", "-m", path).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", path, err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	_, goVersion, ok := strings.Cut(first, ": ")
	if !ok {
		t.Fatalf("go version -m printed no toolchain line:\n%s", out)
	}
	return string(b), GoBinary{GoVersion: strings.TrimSpace(goVersion), GoVersionM: string(out)}
}
