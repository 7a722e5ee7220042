package testenv

import (
	"cmp"
	"encoding/json"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/semver"
)

// goEcosystem is the OSV ecosystem of Go modules and the standard library.
const goEcosystem = "Go"

// GoOracle derives the findings a scanner must report for the modules of a Go
// binary independently of Tidewatch: it reads the shared OSV Go export with
// archive/zip and encoding/json and orders versions with golang.org/x/mod/semver
// (modules) and go/version (the standard library), never with osv-scalibr or
// Tidewatch's advisory or match packages.
//
// It evaluates SEMVER ranges of introduced/fixed events in ascending order, as the
// Go vulnerability database writes them; a record of another shape fails the test.
type GoOracle struct {
	byModule map[string][]*osvRecord
}

// GoModule is one module a Go binary's build info lists; the standard library is
// "stdlib" at the toolchain's version. Versions carry no "v" or "go" prefix, as OSV
// writes them ("0.3.7", "1.26.8").
type GoModule struct {
	Path    string
	Version string
}

// NewGoOracle reads <Advisories>/Go/all.zip.
func NewGoOracle(t testing.TB) *GoOracle {
	t.Helper()
	x := loadOSVExport(t, "Go", goEcosystem)
	return &GoOracle{byModule: x.byPackage}
}

// Findings returns the findings of mods, sorted by ID then Package (LayerDiffID is
// left empty): one per vulnerability id of every record whose range covers the
// module's version, the id being each CVE the record names, else the record id.
func (o *GoOracle) findings(t testing.TB, mods []GoModule) []ExpectedFinding {
	t.Helper()
	fixes := make(map[ExpectedFinding][]string)
	for _, m := range mods {
		for _, rec := range o.byModule[m.Path] {
			for _, a := range rec.Affected {
				if a.Package.Ecosystem != goEcosystem || a.Package.Name != m.Path {
					continue
				}
				if len(a.Versions) > 0 {
					t.Fatalf("%s lists versions; the oracle does not evaluate them", rec.ID)
				}
				for _, r := range a.Ranges {
					fixed, affected := goCovers(t, rec.ID, m.Path, r.Type, r.Events, m.Version)
					if !affected {
						continue
					}
					for _, id := range vulnerabilityIDs(rec) {
						key := ExpectedFinding{ID: id, Package: m.Path}
						fixes[key] = append(fixes[key], fixed)
					}
				}
			}
		}
	}
	out := make([]ExpectedFinding, 0, len(fixes))
	for key, versions := range fixes {
		out = append(out, collapseGo(t, key, versions))
	}
	slices.SortFunc(out, func(a, b ExpectedFinding) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Package, b.Package))
	})
	return out
}

// vulnerabilityIDs are the CVEs among a record's aliases, else the record id.
func vulnerabilityIDs(rec *osvRecord) []string {
	var ids []string
	for _, id := range slices.Concat([]string{rec.ID}, rec.Aliases, rec.Upstream) {
		if strings.HasPrefix(id, "CVE-") && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return []string{rec.ID}
	}
	return ids
}

// collapseGo gives a finding named by several records the highest fix, none if any
// record lacks one.
func collapseGo(t testing.TB, f ExpectedFinding, fixes []string) ExpectedFinding {
	t.Helper()
	for _, v := range fixes {
		if v == "" {
			f.FixedVersion = ""
			return f
		}
		if f.FixedVersion == "" || compareGo(t, f.Package, v, f.FixedVersion) > 0 {
			f.FixedVersion = v
		}
	}
	return f
}

// goCovers walks a range's ascending introduced/fixed events: the version is
// affected between an introduced event at or below it and the next fixed event
// above it, which is the fix.
func goCovers(t testing.TB, id, module, typ string, events []map[string]string, v string) (fixed string, affected bool) {
	t.Helper()
	if typ != "SEMVER" {
		t.Fatalf("%s has a %s range; the oracle evaluates SEMVER only", id, typ)
	}
	previous := ""
	for _, e := range events {
		if len(e) != 1 {
			t.Fatalf("%s has an event with %d fields", id, len(e))
		}
		for kind, at := range e {
			if previous != "" && previous != "0" && compareGo(t, module, at, previous) < 0 {
				t.Fatalf("%s lists events out of order (%s after %s)", id, at, previous)
			}
			previous = at
			switch kind {
			case "introduced":
				if at == "0" || compareGo(t, module, v, at) >= 0 {
					affected = true
				}
			case "fixed":
				if !affected {
					continue
				}
				if compareGo(t, module, v, at) < 0 {
					return at, true
				}
				affected = false
			default:
				t.Fatalf("%s has a %s event; the oracle evaluates introduced/fixed only", id, kind)
			}
		}
	}
	return "", affected
}

// compareGo orders two OSV Go versions: Go releases for the standard library and
// toolchain, semantic versions for modules.
func compareGo(t testing.TB, module, a, b string) int {
	t.Helper()
	if module == "stdlib" || module == "toolchain" {
		return version.Compare("go"+goRelease(a), "go"+goRelease(b))
	}
	if !semver.IsValid("v"+a) || !semver.IsValid("v"+b) {
		t.Fatalf("%s: %q or %q is not a semantic version", module, a, b)
	}
	return semver.Compare("v"+a, "v"+b)
}

// goRelease turns an OSV standard-library version into go/version's syntax: OSV
// writes pre-releases the semver way ("1.21.0-rc.2"), Go as "1.21rc2".
func goRelease(v string) string {
	base, pre, ok := strings.Cut(v, "-")
	if !ok {
		return v
	}
	base = strings.TrimSuffix(base, ".0")
	if pre == "0" { // "introduced: 1.21.0-0", before every 1.21 pre-release
		return base + "rc0"
	}
	return base + strings.ReplaceAll(pre, ".", "")
}

// GoBinary is what `go version -m` printed for a shared fixture's binary.
type GoBinary struct {
	// GoVersion is the toolchain ("go1.26.8").
	GoVersion string `json:"goVersion"`
	// GoVersionM is the full `go version -m` output.
	GoVersionM string `json:"goVersionM"`
}

// ReadGoBinary decodes the goBinary field of a fixture's sidecar ("go-app").
func ReadGoBinary(t testing.TB, image string) GoBinary {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Shared(t), "images", image+".json"))
	if err != nil {
		t.Fatalf("reading sidecar of %s: %v", image, err)
	}
	var s struct {
		GoBinary *GoBinary `json:"goBinary"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("decoding sidecar of %s: %v", image, err)
	}
	if s.GoBinary == nil {
		t.Fatalf("sidecar of %s has no goBinary", image)
	}
	return *s.GoBinary
}

// Modules lists the standard library and every dependency (after replacements) of
// the build info, versions without "v" or "go", as OSV writes them.
func (b GoBinary) Modules(t testing.TB) []GoModule {
	t.Helper()
	mods := []GoModule{{Path: "stdlib", Version: strings.TrimPrefix(b.GoVersion, "go")}}
	for _, line := range strings.Split(b.GoVersionM, "\n") {
		f := strings.Split(strings.TrimSpace(line), "\t")
		switch {
		case f[0] == "dep" && len(f) >= 3:
			mods = append(mods, GoModule{Path: f[1], Version: strings.TrimPrefix(f[2], "v")})
		case f[0] == "=>" && len(f) >= 3:
			mods[len(mods)-1] = GoModule{Path: f[1], Version: strings.TrimPrefix(f[2], "v")}
		}
	}
	if len(mods) < 2 {
		t.Fatal(fmt.Errorf("go version -m lists no dependency:\n%s", b.GoVersionM))
	}
	return mods
}
