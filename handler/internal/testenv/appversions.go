package testenv

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/semver"
)

// AppVersions orders versions of the application ecosystems with reference
// implementations, never with osv-scalibr or Tidewatch:
//   - RubyGems: Ruby's own Gem::Version (Debian package ruby), run per pair;
//   - Packagist: Composer's Composer\Semver (Debian php-composer-semver, which
//     Debian's composer uses), normalising both versions then comparing;
//   - crates.io: SemVer 2.0.0 precedence, which the semver crate implements for
//     comparisons, through golang.org/x/mod/semver;
//   - NuGet: compareNuGet, a port of NuGet.Versioning's rules.
type AppVersions struct {
	mu   sync.Mutex
	memo map[[3]string]int
}

// NewAppVersions checks that ruby and php with Composer\Semver are installed (test.sh
// installs them); otherwise the test is skipped, or fails under test.sh.
func NewAppVersions(t testing.TB) *AppVersions {
	t.Helper()
	for _, tool := range []string{"ruby", "php"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "%s not installed (apt-get install ruby php-cli php-composer-semver)", tool)
		}
	}
	if err := exec.Command("php", "-r", `require "Composer/Semver/autoload.php";`).Run(); err != nil {
		missing(t, "Composer\\Semver not installed (apt-get install php-composer-semver): %v", err)
	}
	return &AppVersions{memo: map[[3]string]int{}}
}

// rubyCompare and phpCompare print the sign of a - b for argv a b.
const (
	rubyCompare = `puts(Gem::Version.new(ARGV[0]) <=> Gem::Version.new(ARGV[1]))`
	phpCompare  = `require "Composer/Semver/autoload.php";
$p = new Composer\Semver\VersionParser();
$a = $p->normalize($argv[1]); $b = $p->normalize($argv[2]);
echo Composer\Semver\Comparator::lessThan($a, $b) ? -1 : (Composer\Semver\Comparator::equalTo($a, $b) ? 0 : 1), "\n";`
)

// Compare returns the sign of a - b in ecosystem; a version the reference rejects
// fails the test.
func (v *AppVersions) Compare(t testing.TB, ecosystem, a, b string) int {
	t.Helper()
	key := [3]string{ecosystem, a, b}
	v.mu.Lock()
	n, ok := v.memo[key]
	v.mu.Unlock()
	if ok {
		return n
	}
	var err error
	switch ecosystem {
	case "RubyGems":
		n, err = runCompare("ruby", "-e", rubyCompare, a, b)
	case "Packagist":
		n, err = runCompare("php", "-r", phpCompare, a, b)
	case "crates.io":
		if !semver.IsValid("v"+a) || !semver.IsValid("v"+b) {
			err = fmt.Errorf("not a semantic version")
		}
		n = semver.Compare("v"+a, "v"+b)
	case "NuGet":
		n, err = compareNuGet(a, b)
	default:
		err = fmt.Errorf("no reference ordering")
	}
	if err != nil {
		t.Fatalf("comparing %s versions %q and %q: %v", ecosystem, a, b, err)
	}
	v.mu.Lock()
	v.memo[key] = n
	v.mu.Unlock()
	return n
}

func runCompare(tool string, args ...string) (int, error) {
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s: %v: %s", tool, err, out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0, fmt.Errorf("%s printed %q", tool, out)
	}
	return n, nil
}

// compareNuGet orders NuGet versions as NuGet.Versioning's VersionComparer.Default
// does (https://learn.microsoft.com/nuget/concepts/package-versioning, "Version
// precedence"; NuGet.Client src/NuGet.Core/NuGet.Versioning/VersionComparer.cs):
// Major.Minor.Patch[.Revision], a missing part being 0; then a version without a
// release label above one with; labels compared dot-separated part by part as
// SemVer 2.0.0 does, except that alphanumeric parts compare case-insensitively;
// build metadata ignored.
func compareNuGet(a, b string) (int, error) {
	va, err := parseNuGet(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseNuGet(b)
	if err != nil {
		return 0, err
	}
	for i := range va.numbers {
		if c := cmpInt(va.numbers[i], vb.numbers[i]); c != 0 {
			return c, nil
		}
	}
	switch {
	case len(va.labels) == 0 && len(vb.labels) == 0:
		return 0, nil
	case len(va.labels) == 0:
		return 1, nil
	case len(vb.labels) == 0:
		return -1, nil
	}
	for i := 0; i < len(va.labels) && i < len(vb.labels); i++ {
		if c := compareNuGetLabel(va.labels[i], vb.labels[i]); c != 0 {
			return c, nil
		}
	}
	return cmpInt(uint64(len(va.labels)), uint64(len(vb.labels))), nil
}

type nugetVersion struct {
	numbers [4]uint64
	labels  []string
}

func parseNuGet(s string) (nugetVersion, error) {
	var v nugetVersion
	s, _, _ = strings.Cut(s, "+")
	core, label, hasLabel := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) < 1 || len(parts) > 4 {
		return v, fmt.Errorf("%q: %d numeric parts", s, len(parts))
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return v, fmt.Errorf("%q: part %q is not a number", s, p)
		}
		v.numbers[i] = n
	}
	if hasLabel {
		v.labels = strings.Split(label, ".")
		for _, l := range v.labels {
			if l == "" {
				return v, fmt.Errorf("%q: empty release label part", s)
			}
		}
	}
	return v, nil
}

// compareNuGetLabel compares one release label part: numeric parts numerically and
// below alphanumeric ones, alphanumeric ones ordinally ignoring case.
func compareNuGetLabel(a, b string) int {
	na, errA := strconv.ParseUint(a, 10, 64)
	nb, errB := strconv.ParseUint(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return cmpInt(na, nb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func cmpInt(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
