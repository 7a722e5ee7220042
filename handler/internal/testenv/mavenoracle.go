package testenv

import (
	"bufio"
	"bytes"
	"cmp"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
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

// mavenEvent is one range event that applies to an artifact's version.
type mavenEvent struct {
	kind, at string
}

// mavenRange is one range of a record that names an artifact at some location.
type mavenRange struct {
	pkg    MavenPackage
	rec    *osvRecord
	events []mavenEvent
}

// Findings returns the findings of pkgs, sorted by ID, Package, LayerDiffID left
// empty; the Package of each is "name location" so the same artifact at two places
// stays two findings. One per vulnerability id (each CVE the record names, else its
// id) of every record with a range covering the version; the fix is the range's.
func (o *MavenOracle) findings(t testing.TB, pkgs []MavenPackage) []ExpectedFinding {
	t.Helper()
	ranges, pairs := o.ranges(t, pkgs)
	order := CompareMavenVersions(t, pairs)
	fixes := map[ExpectedFinding][]string{}
	for _, rg := range ranges {
		for i := 1; i < len(rg.events); i++ {
			prev, at := rg.events[i-1].at, rg.events[i].at
			if prev != "0" && order[[2]string{prev, at}] > 0 {
				t.Fatalf("%s lists events out of order (%s after %s)", rg.rec.ID, at, prev)
			}
		}
		fixed, affected := mavenCovers(rg.pkg.Version, rg.events, order)
		if !affected {
			continue
		}
		for _, id := range vulnerabilityIDs(rg.rec) {
			key := ExpectedFinding{ID: id, Package: rg.pkg.Name + " " + rg.pkg.Location}
			fixes[key] = append(fixes[key], fixed)
		}
	}
	out := make([]ExpectedFinding, 0, len(fixes))
	for key, versions := range fixes {
		if len(versions) != 1 {
			t.Fatalf("%s on %s: %d ranges cover the version; the oracle does not collapse them", key.ID, key.Package, len(versions))
		}
		key.FixedVersion = versions[0]
		out = append(out, key)
	}
	slices.SortFunc(out, func(a, b ExpectedFinding) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Package, b.Package))
	})
	return out
}

// ranges lists the ranges of the records naming each package, and the version pairs
// ComparableVersion must order to evaluate them: the package's version against each
// event, and each event against the one before (to check they ascend).
func (o *MavenOracle) ranges(t testing.TB, pkgs []MavenPackage) ([]mavenRange, [][2]string) {
	t.Helper()
	var ranges []mavenRange
	var pairs [][2]string
	for _, p := range pkgs {
		for _, rec := range o.byArtifact[p.Name] {
			for _, a := range rec.Affected {
				if a.Package.Ecosystem != mavenEcosystem || a.Package.Name != p.Name {
					continue
				}
				if len(a.Versions) > 0 {
					t.Fatalf("%s lists versions; the oracle does not evaluate them", rec.ID)
				}
				for _, r := range a.Ranges {
					if r.Type != "ECOSYSTEM" {
						t.Fatalf("%s has a %s range; the oracle evaluates ECOSYSTEM only", rec.ID, r.Type)
					}
					rg := mavenRange{pkg: p, rec: rec}
					for _, e := range r.Events {
						if len(e) != 1 {
							t.Fatalf("%s has an event with %d fields", rec.ID, len(e))
						}
						for kind, at := range e {
							if kind != "introduced" && kind != "fixed" {
								t.Fatalf("%s has a %s event; the oracle evaluates introduced/fixed only", rec.ID, kind)
							}
							if n := len(rg.events); at != "0" && n > 0 && rg.events[n-1].at != "0" {
								pairs = append(pairs, [2]string{rg.events[n-1].at, at})
							}
							if at != "0" {
								pairs = append(pairs, [2]string{p.Version, at})
							}
							rg.events = append(rg.events, mavenEvent{kind, at})
						}
					}
					ranges = append(ranges, rg)
				}
			}
		}
	}
	return ranges, pairs
}

// mavenCovers walks a range's events (checked ascending): the version is affected
// between an introduced event at or below it and the next fixed event above it,
// which is the fix. order holds the comparison of v with every event version.
func mavenCovers(v string, events []mavenEvent, order map[[2]string]int) (fixed string, affected bool) {
	for _, e := range events {
		switch e.kind {
		case "introduced":
			if e.at == "0" || order[[2]string{v, e.at}] >= 0 {
				affected = true
			}
		case "fixed":
			if !affected {
				continue
			}
			if order[[2]string{v, e.at}] < 0 {
				return e.at, true
			}
			affected = false
		}
	}
	return "", affected
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
