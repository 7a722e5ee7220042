// Package testenv gives tests the real services they need: Azurite (started by
// scripts/test.sh, found through TIDEWATCH_TEST_STORAGE), a fresh docker-registry
// process per test, the shared fixtures, and unique resource names.
//
// A missing service skips the test when run by hand with plain `go test`, and fails it
// when TIDEWATCH_TEST_REQUIRE_SERVICES=1 (scripts/test.sh and CI set it), so CI can
// never pass by skipping.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// missing skips or fails the test for an absent service.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("TIDEWATCH_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf("required test service unavailable: "+format, args...)
	}
	t.Skipf("skipping, test service unavailable (run scripts/test.sh): "+format, args...)
}

// Storage returns the Azurite connection string exported by scripts/test.sh.
func Storage(t testing.TB) string {
	t.Helper()
	cs := os.Getenv("TIDEWATCH_TEST_STORAGE")
	if cs == "" {
		missing(t, "TIDEWATCH_TEST_STORAGE is not set")
	}
	return cs
}

// Name returns a lowercase alphanumeric name unique to this call, starting with a
// letter, usable as a table, queue or container suffix: "t" + 10 hex digits.
func Name(t testing.TB) string {
	t.Helper()
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b[:])
}

// RepoRoot returns the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// Shared returns the shared fixtures directory (../shared next to the repository, or
// TIDEWATCH_SHARED). Missing fixtures fail the test: they are part of the checkout.
func Shared(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("TIDEWATCH_SHARED")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "images")); err != nil {
		t.Fatalf("shared fixtures not found at %s (set TIDEWATCH_SHARED): %v", dir, err)
	}
	return dir
}

// Image returns the path of a shared image tarball, e.g. Image(t, "debian12-minbase").
func Image(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(Shared(t), "images", strings.TrimSuffix(name, ".tar")+".tar")
}

// Advisories returns the shared OSV advisory directory.
func Advisories(t testing.TB) string {
	t.Helper()
	return filepath.Join(Shared(t), "advisories")
}
