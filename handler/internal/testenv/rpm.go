package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rpmPython is the interpreter Debian's python3-rpm installs its module for (a
// python3 earlier on PATH, from pyenv say, does not have it).
const rpmPython = "/usr/bin/python3"

// rpmCompareScript reads a JSON list of [a, b] pairs of "[epoch:]version-release"
// strings on stdin and prints rpm.labelCompare of each, as a JSON list.
const rpmCompareScript = `
import json, sys, rpm
def evr(s):
    e, _, vr = s.rpartition(":") if ":" in s else ("", "", s)
    v, _, r = vr.rpartition("-") if "-" in vr else (vr, "", "")
    return (e or "0", v, r or None)
pairs = json.load(sys.stdin)
json.dump([rpm.labelCompare(evr(a), evr(b)) for a, b in pairs], sys.stdout)
`

// RPMVersions orders rpm versions with rpm's own rpm.labelCompare (Debian's
// python3-rpm), run as one subprocess per batch, so expectations never depend on
// Tidewatch's or osv-scalibr's version code.
type RPMVersions struct{}

// NewRPMVersions returns a comparer; without python3-rpm the test is skipped, or
// failed under TIDEWATCH_TEST_REQUIRE_SERVICES=1 (scripts/test.sh installs it).
func NewRPMVersions(t testing.TB) *RPMVersions {
	t.Helper()
	if err := exec.Command(rpmPython, "-c", "import rpm").Run(); err != nil {
		missing(t, "python3-rpm (%s -c 'import rpm': %v)", rpmPython, err)
	}
	return &RPMVersions{}
}

// CompareAll returns, for each pair, -1, 0 or 1 as rpm orders pair[0] against pair[1].
func (*RPMVersions) CompareAll(t testing.TB, pairs [][2]string) []int {
	t.Helper()
	if len(pairs) == 0 {
		return nil
	}
	in, err := json.Marshal(pairs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rpmPython, "-c", rpmCompareScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpm.labelCompare over %d pairs: %v\n%s", len(pairs), err, stderr.String())
	}
	var results []int
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(pairs) {
		t.Fatalf("rpm.labelCompare printed %q (%v), want %d results", out, err, len(pairs))
	}
	return results
}

// RPMQueryAll lists the packages of an rpm database file (rpmdb.sqlite or
// Packages) with `rpm --dbpath <copy> -qa`, run on a copy in a temporary
// directory since rpm writes lock and WAL files beside it. gpg-pubkey entries
// (imported keys) are left out, as the sidecars leave them out. Without rpm the
// test is skipped, or failed under TIDEWATCH_TEST_REQUIRE_SERVICES=1.
func RPMQueryAll(t testing.TB, dbFile string) []RPMPackage {
	t.Helper()
	if _, err := exec.LookPath("rpm"); err != nil {
		missing(t, "rpm: %v", err)
	}
	data, err := os.ReadFile(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(dbFile)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("rpm", "--dbpath", dir, "-qa", "--qf", `%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\n`)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpm --dbpath %s -qa: %v\n%s", dir, err, stderr.String())
	}
	var pkgs []RPMPackage
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			t.Fatalf("rpm -qa printed %q", line)
		}
		if f[0] == "gpg-pubkey" {
			continue
		}
		p := RPMPackage{Package: f[0], Version: f[2], Release: f[3], Arch: f[4], SourceRPM: f[5]}
		if f[1] != "(none)" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("rpm -qa printed epoch %q", f[1])
			}
			p.Epoch = &n
		}
		if p.SourceRPM == "(none)" {
			p.SourceRPM = ""
		}
		p.SourcePackage = sourceRPMName(p.SourceRPM)
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("rpm -qa lists no package in %s", dbFile)
	}
	return pkgs
}

// sourceRPMName is the name part of "name-version-release.src.rpm".
func sourceRPMName(srpm string) string {
	base := strings.TrimSuffix(srpm, ".src.rpm")
	for range 2 {
		i := strings.LastIndexByte(base, '-')
		if i < 0 {
			return ""
		}
		base = base[:i]
	}
	return base
}

// MarinerOSRelease is a CBL-Mariner 2.0 /etc/os-release, for a layer around the
// shared real rpmdb.sqlite (which comes without a root filesystem).
const MarinerOSRelease = `NAME="Common Base Linux Mariner"
VERSION="2.0.20220226"
ID=mariner
VERSION_ID="2.0"
PRETTY_NAME="CBL-Mariner/Linux"
`

// MarinerRPMDB returns the path of the shared CBL-Mariner 2.0 rpmdb.sqlite.
func MarinerRPMDB(t testing.TB) string {
	t.Helper()
	p := filepath.Join(Shared(t), "oval", "rpmdb.sqlite")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared Mariner rpm database: %v", err)
	}
	return p
}

// MarinerRPMDBWithImportedKey is a copy of the shared Mariner rpmdb.sqlite into
// which rpm itself imported a signing key (Debian's bookworm archive key, exported
// armored by gpg), so the database holds a real gpg-pubkey entry as every dnf-built
// image's does. It checks with `rpm -qa gpg-pubkey` that the entry is there. Without
// gpg or rpmkeys the test is skipped, or failed under TIDEWATCH_TEST_REQUIRE_SERVICES=1.
func MarinerRPMDBWithImportedKey(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"gpg", "rpmkeys", "rpm"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "%s: %v", tool, err)
		}
	}
	const keyring = "/usr/share/keyrings/debian-archive-bookworm-stable.gpg"
	if _, err := os.Stat(keyring); err != nil {
		missing(t, "Debian archive keyring: %v", err)
	}
	data, err := os.ReadFile(MarinerRPMDB(t))
	if err != nil {
		t.Fatal(err)
	}
	dir, home := t.TempDir(), t.TempDir()
	db := filepath.Join(dir, "rpmdb.sqlite")
	if err := os.WriteFile(db, data, 0o644); err != nil {
		t.Fatal(err)
	}
	export := exec.Command("gpg", "--batch", "--quiet", "--no-default-keyring", "--keyring", keyring, "--export", "--armor")
	export.Env = append(os.Environ(), "GNUPGHOME="+home)
	key, err := export.Output()
	if err != nil || !bytes.Contains(key, []byte("BEGIN PGP PUBLIC KEY BLOCK")) {
		t.Fatalf("gpg --export --armor of %s: %v", keyring, err)
	}
	keyFile := filepath.Join(home, "key.asc")
	if err := os.WriteFile(keyFile, key, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("rpmkeys", "--dbpath", dir, "--import", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("rpmkeys --import: %v\n%s", err, out)
	}
	out, err := exec.Command("rpm", "--dbpath", dir, "-qa", "gpg-pubkey").Output()
	if err != nil || !strings.HasPrefix(string(out), "gpg-pubkey-") {
		t.Fatalf("rpm -qa gpg-pubkey after the import printed %q (%v)", out, err)
	}
	// rpm checkpoints its WAL when it closes the database: the file holds the key.
	if wal, err := os.Stat(db + "-wal"); err == nil && wal.Size() != 0 {
		t.Fatalf("rpm left %d bytes in %s-wal", wal.Size(), db)
	}
	return db
}

// String is "name-[epoch:]version-release.arch", for messages.
func (p RPMPackage) String() string { return fmt.Sprintf("%s-%s.%s", p.Package, p.EVR(), p.Arch) }

// FixtureFile returns the contents of the regular file at path (no leading slash)
// in the topmost layer of a shared fixture image that holds it.
func FixtureFile(t testing.TB, image, path string) []byte {
	t.Helper()
	var found []byte
	for _, l := range ReadSidecar(t, image).Manifests[0].Layers {
		if b, ok := layerFile(t, image, l.Digest, path); ok {
			found = b
		}
	}
	if found == nil {
		t.Fatalf("no %s in %s", path, image)
	}
	return found
}
