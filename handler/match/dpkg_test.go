package match_test

import (
	"errors"
	"os/exec"
	"sync"
	"testing"
)

// dpkg answers version comparisons with `dpkg --compare-versions`, the reference
// implementation of Debian version ordering, caching answers.
type dpkg struct {
	t     *testing.T
	mu    sync.Mutex
	cache map[[3]string]bool
}

func newDpkg(t *testing.T) *dpkg {
	t.Helper()
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Fatalf("dpkg is needed to derive expectations: %v", err)
	}
	return &dpkg{t: t, cache: make(map[[3]string]bool)}
}

// holds reports whether `dpkg --compare-versions a op b` succeeds.
func (d *dpkg) holds(a, op, b string) bool {
	d.t.Helper()
	key := [3]string{a, op, b}
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.cache[key]; ok {
		return v
	}
	err := exec.Command("dpkg", "--compare-versions", a, op, b).Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		d.cache[key] = true
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		d.cache[key] = false
	default:
		d.t.Fatalf("dpkg --compare-versions %s %s %s: %v", a, op, b, err)
	}
	return d.cache[key]
}

// compare returns -1, 0 or 1 as dpkg orders a and b.
func (d *dpkg) compare(a, b string) int {
	switch {
	case d.holds(a, "lt", b):
		return -1
	case d.holds(a, "eq", b):
		return 0
	default:
		return 1
	}
}
