package testenv

import (
	"bytes"
	"cmp"
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// AppPackage is one installed application package (npm, PyPI) as the ground truth
// of a fixture lists it: name as written in its metadata, version, and the path of
// the file it is read from (no leading slash).
type AppPackage struct {
	Name     string
	Version  string
	Location string
}

// AppFinding is one finding an oracle expects on an application package.
type AppFinding struct {
	// ID is each CVE the records name, else the record id.
	ID string
	// Package and Location are the AppPackage's.
	Package  string
	Location string
	// FixedVersion is the highest fix of the collapsed records, empty if any has none.
	FixedVersion string
}

// AppOracle derives the findings a scanner must report for npm or PyPI packages
// independently of Tidewatch: it reads the shared OSV export with archive/zip and
// encoding/json, walks each range's introduced/fixed/last_affected events itself,
// and leaves every version comparison to the ecosystem's reference implementation,
// run once per Findings call in one subprocess: npm's own `semver` package under
// node, or Debian's python3-packaging (`packaging.version.Version`). It imports none
// of osv-scalibr or Tidewatch's advisory and match packages.
type AppOracle struct {
	ecosystem string
	// byName holds the records in force per package name as the oracle compares
	// names (PEP 503 for PyPI, exact for npm).
	byName map[string][]*osvRecord
	// compare runs one batch of comparisons with the reference implementation.
	compare func(t testing.TB, req versionBatch) versionAnswers
}

// NewNPMOracle reads <Advisories>/npm/all.zip and compares versions with the
// semver package installed by scripts/test.sh (ensure_npm_semver) into
// .cache/semver; without node or that package the test skips, or fails under
// scripts/test.sh.
func NewNPMOracle(t testing.TB) *AppOracle {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "node is needed to run the npm semver oracle: %v", err)
	}
	module := RepoRoot(t) + "/.cache/semver/node_modules/semver"
	if err := exec.Command("node", "-e", "require(process.argv[1])", module).Run(); err != nil {
		missing(t, "npm semver not installed at %s (scripts/test.sh installs it): %v", module, err)
	}
	x := loadOSVExport(t, "npm", "npm")
	return &AppOracle{ecosystem: "npm", byName: x.byPackage, compare: func(t testing.TB, req versionBatch) versionAnswers {
		return runVersionBatch(t, req, "node", "-e", npmSemverScript, module)
	}}
}

// debianPython is Debian's interpreter, which python3-packaging installs for (a
// python3 earlier on PATH, such as pyenv's, does not see it).
const debianPython = "/usr/bin/python3"

// NewPyPIOracle reads <Advisories>/PyPI/all.zip and compares versions with
// Debian's python3-packaging (scripts/test.sh: ensure_python_packaging); without it
// the test skips, or fails under scripts/test.sh.
func NewPyPIOracle(t testing.TB) *AppOracle {
	t.Helper()
	if err := exec.Command(debianPython, "-c", "import packaging.version").Run(); err != nil {
		missing(t, "%s cannot import packaging (apt install python3-packaging): %v", debianPython, err)
	}
	x := loadOSVExport(t, "PyPI", "PyPI")
	byName := make(map[string][]*osvRecord)
	for name, recs := range x.byPackage {
		key := pep503(name)
		for _, r := range recs {
			if !slices.Contains(byName[key], r) {
				byName[key] = append(byName[key], r)
			}
		}
	}
	return &AppOracle{ecosystem: "PyPI", byName: byName, compare: func(t testing.TB, req versionBatch) versionAnswers {
		return runVersionBatch(t, req, debianPython, "-c", pythonPackagingScript)
	}}
}

// pep503Separators is the regular expression of PEP 503's normalization.
var pep503Separators = regexp.MustCompile(`[-_.]+`)

// pep503 normalizes a Python project name as PEP 503 writes it:
// re.sub(r"[-_.]+", "-", name).lower().
func pep503(name string) string { return strings.ToLower(pep503Separators.ReplaceAllString(name, "-")) }

// nameKey is how the oracle compares package names in its ecosystem.
func (o *AppOracle) nameKey(name string) string {
	if o.ecosystem == "PyPI" {
		return pep503(name)
	}
	return name
}

// interval is one affected interval of a range: at or above Introduced ("0":
// everything) and below Fixed, or at or below LastAffected, or unbounded; or one
// version listed explicitly (Exact).
type interval struct {
	Installed    string `json:"installed"`
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"lastAffected,omitempty"`
	Exact        string `json:"exact,omitempty"`
}

// versionBatch is what the reference implementation is asked: whether each
// interval holds its installed version, and the ascending order of some versions.
type versionBatch struct {
	Checks []interval `json:"checks"`
	Sort   []string   `json:"sort"`
}

// versionAnswers are its answers; a nil Holds entry is a version it cannot parse.
type versionAnswers struct {
	Holds     []*bool  `json:"holds"`
	Ascending []string `json:"ascending"`
}

// candidate is one interval of one record that may affect one package.
type candidate struct {
	record *osvRecord
	pkg    AppPackage
	check  int
	exact  bool
}

// Findings returns the findings of pkgs, sorted by ID, Package, Location: one per
// vulnerability id of every record whose ECOSYSTEM or SEMVER range covers the
// package's version, records of one id collapsed with their highest fix (none if
// any record has none). A version matched only by a record's explicit versions list
// fails the test: the oracle would have to guess its fix.
func (o *AppOracle) Findings(t testing.TB, pkgs []AppPackage) []AppFinding {
	t.Helper()
	var (
		batch      versionBatch
		candidates []candidate
	)
	for _, p := range pkgs {
		for _, rec := range o.byName[o.nameKey(p.Name)] {
			for _, a := range rec.Affected {
				if a.Package.Ecosystem != o.ecosystem || o.nameKey(a.Package.Name) != o.nameKey(p.Name) {
					continue
				}
				for _, r := range a.Ranges {
					if r.Type == "GIT" {
						continue // commits, not package versions
					}
					if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
						t.Fatalf("%s has a %s range; the oracle evaluates ECOSYSTEM and SEMVER only", rec.ID, r.Type)
					}
					for _, iv := range intervals(t, rec.ID, r.Events) {
						iv.Installed = p.Version
						candidates = append(candidates, candidate{record: rec, pkg: p, check: len(batch.Checks)})
						batch.Checks = append(batch.Checks, iv)
						if iv.Fixed != "" {
							batch.Sort = append(batch.Sort, iv.Fixed)
						}
					}
				}
				for _, v := range a.Versions {
					candidates = append(candidates, candidate{record: rec, pkg: p, check: len(batch.Checks), exact: true})
					batch.Checks = append(batch.Checks, interval{Installed: p.Version, Exact: v})
				}
			}
		}
	}
	if len(batch.Checks) == 0 {
		return []AppFinding{}
	}
	answers := o.compare(t, batch)
	if len(answers.Holds) != len(batch.Checks) {
		t.Fatalf("the %s reference answered %d of %d checks", o.ecosystem, len(answers.Holds), len(batch.Checks))
	}
	rank := make(map[string]int, len(answers.Ascending))
	for i, v := range answers.Ascending {
		rank[v] = i
	}
	type key struct{ id, pkg, location string }
	type state struct {
		fixes    []string
		inRange  bool
		exactHit bool
	}
	hits := make(map[key]*state)
	for _, c := range candidates {
		holds := answers.Holds[c.check]
		if holds == nil {
			t.Fatalf("%s: the %s reference cannot parse %+v", c.record.ID, o.ecosystem, batch.Checks[c.check])
		}
		if !*holds {
			continue
		}
		for _, id := range o.vulnerabilityIDs(c.record) {
			k := key{id, c.pkg.Name, c.pkg.Location}
			s := hits[k]
			if s == nil {
				s = new(state)
				hits[k] = s
			}
			if c.exact {
				s.exactHit = true
				continue
			}
			s.inRange = true
			s.fixes = append(s.fixes, batch.Checks[c.check].Fixed)
		}
	}
	out := make([]AppFinding, 0, len(hits))
	for k, s := range hits {
		if !s.inRange {
			t.Fatalf("%s on %s %s: only an explicit versions list matches; the oracle does not decide its fix", k.id, k.pkg, k.location)
		}
		f := AppFinding{ID: k.id, Package: k.pkg, Location: k.location}
		for i, fix := range s.fixes {
			if fix == "" {
				f.FixedVersion = ""
				break
			}
			if i == 0 || rank[fix] > rank[f.FixedVersion] {
				f.FixedVersion = fix
			}
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b AppFinding) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Package, b.Package), strings.Compare(a.Location, b.Location))
	})
	return out
}

// vulnerabilityIDs are the CVEs a record names, else its id; in PyPI, whose export
// holds a PYSEC and a GHSA record per vulnerability, a record naming no CVE stands for
// the alphabetically first of its id and its PYSEC-/GHSA- aliases, so both records
// count once.
func (o *AppOracle) vulnerabilityIDs(rec *osvRecord) []string {
	ids := vulnerabilityIDs(rec)
	if o.ecosystem != "PyPI" || strings.HasPrefix(ids[0], "CVE-") {
		return ids
	}
	candidates := []string{rec.ID}
	for _, a := range rec.Aliases {
		if strings.HasPrefix(a, "PYSEC-") || strings.HasPrefix(a, "GHSA-") {
			candidates = append(candidates, a)
		}
	}
	return []string{slices.Min(candidates)}
}

// intervals splits a range's events, in the order the record lists them, into
// affected intervals: each introduced event opens one, the next fixed or
// last_affected event closes it.
func intervals(t testing.TB, id string, events []map[string]string) []interval {
	t.Helper()
	var out []interval
	var open *interval
	for _, e := range events {
		if len(e) != 1 {
			t.Fatalf("%s has an event with %d fields", id, len(e))
		}
		for kind, at := range e {
			switch {
			case kind == "introduced" && open == nil:
				open = &interval{Introduced: at}
			case kind == "fixed" && open != nil:
				open.Fixed = at
				out, open = append(out, *open), nil
			case kind == "last_affected" && open != nil:
				open.LastAffected = at
				out, open = append(out, *open), nil
			default:
				t.Fatalf("%s: a %s event where the oracle expects alternating introduced and fixed/last_affected events", id, kind)
			}
		}
	}
	if open != nil {
		out = append(out, *open)
	}
	return out
}

// runVersionBatch sends req as JSON to the program on stdin and decodes its answer.
func runVersionBatch(t testing.TB, req versionBatch, name string, args ...string) versionAnswers {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("running the version oracle %s: %v\n%s", name, err, stderr.String())
	}
	var ans versionAnswers
	if err := json.Unmarshal(outb, &ans); err != nil {
		t.Fatalf("decoding the version oracle's answer: %v\n%s", err, outb)
	}
	return ans
}

// npmSemverScript answers a versionBatch with npm's semver package (its path is
// argv[1]): semver.gte/lt/lte/eq, and semver.compare for the order.
const npmSemverScript = `
const semver = require(process.argv[1]);
const req = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const holds = req.checks.map(c => {
  try {
    const v = new semver.SemVer(c.installed);
    if (c.exact) return semver.eq(v, new semver.SemVer(c.exact));
    if (c.introduced !== '0' && semver.lt(v, new semver.SemVer(c.introduced))) return false;
    if (c.fixed) return semver.lt(v, new semver.SemVer(c.fixed));
    if (c.lastAffected) return semver.lte(v, new semver.SemVer(c.lastAffected));
    return true;
  } catch (e) { return null; }
});
const ascending = [...new Set(req.sort)].filter(v => semver.valid(v)).sort(semver.compare);
process.stdout.write(JSON.stringify({holds, ascending}));
`

// pythonPackagingScript answers a versionBatch with packaging.version.Version
// (PEP 440 ordering), Debian's python3-packaging.
const pythonPackagingScript = `
import json, sys
from packaging.version import Version, InvalidVersion
req = json.load(sys.stdin)
def holds(c):
    try:
        v = Version(c["installed"])
        if c.get("exact"):
            return v == Version(c["exact"])
        if c["introduced"] != "0" and v < Version(c["introduced"]):
            return False
        if c.get("fixed"):
            return v < Version(c["fixed"])
        if c.get("lastAffected"):
            return v <= Version(c["lastAffected"])
        return True
    except InvalidVersion:
        return None
def valid(v):
    try:
        Version(v)
        return True
    except InvalidVersion:
        return False
ascending = sorted({v for v in req["sort"] if valid(v)}, key=Version)
json.dump({"holds": [holds(c) for c in req["checks"]], "ascending": ascending}, sys.stdout)
`
