package testenv

import (
	"encoding/json"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
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
func (o *GoOracle) Findings(t testing.TB, mods []GoModule) []ExpectedFinding {
	t.Helper()
	ranges := namingRanges(t, mods,
		func(m GoModule) []*osvRecord { return o.byModule[m.Path] },
		func(m GoModule, ecosystem, name string) bool { return ecosystem == goEcosystem && name == m.Path })
	less := func(module, a, b string) bool { return compareGo(t, module, a, b) < 0 }
	return expectFindings(ranges, findingRules[GoModule, ExpectedFinding]{
		keys: func(r osvRange[GoModule]) []ExpectedFinding {
			return perVulnerability(r.rec, func(id string) ExpectedFinding {
				return ExpectedFinding{ID: id, Package: r.pkg.Path}
			})
		},
		covers: func(r osvRange[GoModule]) (string, bool) {
			return ascendingCovers(t, r.rec.ID, "SEMVER", r.typ, r.events, r.pkg.Version,
				func(a, b string) bool { return less(r.pkg.Path, a, b) })
		},
		collapse: func(k ExpectedFinding, fixes []string) string {
			return highestFix(fixes, func(a, b string) bool { return less(k.Package, a, b) })
		},
	})
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
