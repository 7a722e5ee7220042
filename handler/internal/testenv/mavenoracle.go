package testenv

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// mavenEcosystem is the OSV ecosystem of Maven artifacts.
const mavenEcosystem = "Maven"

// MavenOracle derives the findings a scanner must report for Maven artifacts
// independently of Tidewatch: it reads a Maven/all.zip with archive/zip and
// encoding/json and orders versions with Maven's own ComparableVersion (the
// maven-artifact jar, run by java in one batch per call), never with osv-scalibr or
// Tidewatch's advisory or match packages.
//
// It evaluates ECOSYSTEM ranges of introduced/fixed events; a record of another
// shape fails the test.
type MavenOracle struct {
	byArtifact map[string][]*osvRecord
}

// NewMavenOracle reads <dir>/Maven/all.zip.
func NewMavenOracle(t testing.TB, dir string) *MavenOracle {
	t.Helper()
	x, err := readOSVExport(filepath.Join(dir, mavenEcosystem, "all.zip"), mavenEcosystem)
	if err != nil {
		t.Fatalf("reading the Maven OSV export: %v", err)
	}
	if len(x.byPackage) == 0 {
		t.Fatalf("the Maven OSV export in %s holds no record", dir)
	}
	return &MavenOracle{byArtifact: x.byPackage}
}

// Findings returns the findings of pkgs, sorted by ID, Package, LayerDiffID left
// empty; the Package of each is "name location" so the same artifact at two places
// stays two findings. One per vulnerability id (each CVE the record names, else its
// id) of every record with a range covering the version; the fix is the range's.
func (o *MavenOracle) Findings(t testing.TB, pkgs []MavenPackage) []ExpectedFinding {
	t.Helper()
	ranges := namingRanges(t, pkgs,
		func(p MavenPackage) []*osvRecord { return o.byArtifact[p.Name] },
		func(p MavenPackage, ecosystem, name string) bool {
			return ecosystem == mavenEcosystem && name == p.Name
		})
	order := CompareMavenVersions(t, mavenPairs(t, ranges))
	less := func(a, b string) bool { return order[[2]string{a, b}] < 0 }
	// Every range must ascend, also past the event that decides the version.
	for _, r := range ranges {
		for i := 1; i < len(r.events); i++ {
			prev, at := eventVersion(r.events[i-1]), eventVersion(r.events[i])
			if prev != "0" && less(at, prev) {
				t.Fatalf("%s lists events out of order (%s after %s)", r.rec.ID, at, prev)
			}
		}
	}
	return expectFindings(ranges, findingRules[MavenPackage, ExpectedFinding]{
		keys: func(r osvRange[MavenPackage]) []ExpectedFinding {
			return perVulnerability(r.rec, func(id string) ExpectedFinding {
				return ExpectedFinding{ID: id, Package: r.pkg.Name + " " + r.pkg.Location}
			})
		},
		covers: func(r osvRange[MavenPackage]) (string, bool) {
			return ascendingCovers(t, r.rec.ID, "ECOSYSTEM", r.typ, r.events, r.pkg.Version, less)
		},
		collapse: func(k ExpectedFinding, fixes []string) string {
			if len(fixes) != 1 {
				t.Fatalf("%s on %s: %d ranges cover the version; the oracle does not collapse them", k.ID, k.Package, len(fixes))
			}
			return fixes[0]
		},
	})
}

// mavenPairs lists the version pairs ComparableVersion must order to evaluate the
// ranges: the package's version against each event, and each event against the one
// before (to check they ascend). A range of another shape fails the test.
func mavenPairs(t testing.TB, ranges []osvRange[MavenPackage]) [][2]string {
	t.Helper()
	var pairs [][2]string
	for _, r := range ranges {
		if r.typ != "ECOSYSTEM" {
			t.Fatalf("%s has a %s range; the oracle evaluates ECOSYSTEM only", r.rec.ID, r.typ)
		}
		prev := ""
		for _, e := range r.events {
			if len(e) != 1 {
				t.Fatalf("%s has an event with %d fields", r.rec.ID, len(e))
			}
			for kind, at := range e {
				if kind != "introduced" && kind != "fixed" {
					t.Fatalf("%s has a %s event; the oracle evaluates introduced/fixed only", r.rec.ID, kind)
				}
				if at != "0" && prev != "" && prev != "0" {
					pairs = append(pairs, [2]string{prev, at})
				}
				if at != "0" {
					pairs = append(pairs, [2]string{r.pkg.Version, at})
				}
				prev = at
			}
		}
	}
	return pairs
}

// eventVersion is the version of a one-field event.
func eventVersion(e map[string]string) string {
	for _, at := range e {
		return at
	}
	return ""
}

// comparableVersionJars are where Debian's maven packages put maven-artifact.
var comparableVersionJars = []string{"/usr/share/maven/lib/maven-artifact-*.jar", "/usr/share/java/maven3-artifact.jar", "/usr/share/java/maven-artifact.jar"}

// comparison matches ComparableVersion's "   a < b" lines.
var comparison = regexp.MustCompile(`^\s+(\S+) (<|>|==) (\S+)$`)

// CompareMavenVersions compares each pair's versions with Maven's ComparableVersion
// (org.apache.maven.artifact.versioning.ComparableVersion, whose main prints the
// comparison of each argument with the next), in one java process, and returns
// -1, 0 or +1 for each pair.
func CompareMavenVersions(t testing.TB, pairs [][2]string) map[[2]string]int {
	t.Helper()
	out := map[[2]string]int{}
	if len(pairs) == 0 {
		return out
	}
	java, err := exec.LookPath("java")
	if err != nil {
		missing(t, "java (Maven's ComparableVersion is the Maven version oracle): %v", err)
	}
	var jar string
	for _, pattern := range comparableVersionJars {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			jar = m[0]
			break
		}
	}
	if jar == "" {
		missing(t, "maven-artifact jar (apt-get install maven) at %v", comparableVersionJars)
	}
	args := []string{"-cp", jar, "org.apache.maven.artifact.versioning.ComparableVersion"}
	for _, p := range pairs {
		args = append(args, p[0], p[1])
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(java, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("running ComparableVersion: %v\n%s", err, stderr.String())
	}
	var lines []string
	s := bufio.NewScanner(&stdout)
	for s.Scan() {
		if m := comparison.FindStringSubmatch(s.Text()); m != nil {
			lines = append(lines, s.Text())
		}
	}
	// Argument i is compared with argument i+1: pair k is line 2k.
	if len(lines) != 2*len(pairs)-1 {
		t.Fatalf("ComparableVersion printed %d comparisons for %d arguments:\n%s", len(lines), 2*len(pairs), stdout.String())
	}
	for k, p := range pairs {
		m := comparison.FindStringSubmatch(lines[2*k])
		if m[1] != p[0] || m[3] != p[1] {
			t.Fatalf("ComparableVersion line %q is not about %s and %s", lines[2*k], p[0], p[1])
		}
		c := map[string]int{"<": -1, "==": 0, ">": 1}[m[2]]
		out[p] = c
		out[[2]string{p[1], p[0]}] = -c
	}
	return out
}
