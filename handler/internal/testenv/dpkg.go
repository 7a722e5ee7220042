package testenv

import (
	"errors"
	"os/exec"
	"sync"
	"testing"
)

// DpkgVersions orders Debian versions with `dpkg --compare-versions`, the reference
// implementation, so expectations never depend on Tidewatch's own version code.
// Answers are cached; it is safe for concurrent use.
type DpkgVersions struct {
	mu      sync.Mutex
	answers map[[3]string]bool
}

// NewDpkgVersions returns a comparer, failing the test if dpkg is not installed.
func NewDpkgVersions(t testing.TB) *DpkgVersions {
	t.Helper()
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Fatalf("dpkg is needed to derive expectations: %v", err)
	}
	return &DpkgVersions{answers: make(map[[3]string]bool)}
}

// Holds reports whether `dpkg --compare-versions a op b` succeeds (op is lt, le, eq,
// ne, ge or gt). Any other outcome than success or exit status 1 fails the test.
func (d *DpkgVersions) Holds(t testing.TB, a, op, b string) bool {
	t.Helper()
	key := [3]string{a, op, b}
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.answers[key]; ok {
		return v
	}
	err := exec.Command("dpkg", "--compare-versions", a, op, b).Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		d.answers[key] = true
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		d.answers[key] = false
	default:
		t.Fatalf("dpkg --compare-versions %q %s %q: %v", a, op, b, err)
	}
	return d.answers[key]
}

// Less reports whether dpkg orders a before b.
func (d *DpkgVersions) Less(t testing.TB, a, b string) bool {
	t.Helper()
	return d.Holds(t, a, "lt", b)
}

// Compare returns -1, 0 or 1 as dpkg orders a and b.
func (d *DpkgVersions) Compare(t testing.TB, a, b string) int {
	t.Helper()
	switch {
	case d.Holds(t, a, "lt", b):
		return -1
	case d.Holds(t, a, "eq", b):
		return 0
	default:
		return 1
	}
}
