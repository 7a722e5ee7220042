package testenv

import (
	"cmp"
	"path/filepath"
	"strings"
	"testing"
)

// AppsOracle derives the findings a scanner must report for the packages of the
// application fixture independently of Tidewatch: it reads the OSV exports
// AppsAdvisories wrote with archive/zip and encoding/json and orders versions with
// AppVersions (Ruby, Composer, SemVer, the NuGet port), never with osv-scalibr or
// Tidewatch's advisory or match packages.
//
// It evaluates ECOSYSTEM ranges of introduced/fixed events in ascending order, as
// the GitHub advisory database writes them; a record of another shape fails the
// test. NuGet package ids compare case-insensitively, as nuget.org treats them.
type AppsOracle struct {
	versions *AppVersions
	// byPackage holds each ecosystem's records in force by package key.
	byPackage map[string]map[string][]*osvRecord
}

// AppsFinding is one finding the oracle expects for an application package.
type AppsFinding struct {
	// ID is each CVE a record names, else the record id.
	ID        string
	Ecosystem string
	Package   string
	Version   string
	// FixedVersion is the highest fix of the records naming ID, empty if one has none.
	FixedVersion string
	Location     string
}

// NewAppsOracle reads <dir>/<ecosystem>/all.zip for AppsEcosystems (dir as
// AppsAdvisories returns it).
func NewAppsOracle(t testing.TB, dir string) *AppsOracle {
	t.Helper()
	o := &AppsOracle{versions: NewAppVersions(t), byPackage: map[string]map[string][]*osvRecord{}}
	for _, eco := range AppsEcosystems {
		x, err := readOSVExport(filepath.Join(dir, eco, "all.zip"), eco)
		if err != nil {
			t.Fatalf("reading the %s OSV export: %v", eco, err)
		}
		byKey := map[string][]*osvRecord{}
		for name, recs := range x.byPackage {
			byKey[appPackageKey(eco, name)] = append(byKey[appPackageKey(eco, name)], recs...)
		}
		o.byPackage[eco] = byKey
	}
	return o
}

func appPackageKey(ecosystem, name string) string {
	if ecosystem == "NuGet" {
		return strings.ToLower(name)
	}
	return name
}

// Versions is the oracle's version ordering.
func (o *AppsOracle) Versions() *AppVersions { return o.versions }

// Findings returns the findings of pkgs sorted by ID, Package, Location.
func (o *AppsOracle) Findings(t testing.TB, pkgs []AppsPackage) []AppsFinding {
	t.Helper()
	ranges := namingRanges(t, pkgs,
		func(p AppsPackage) []*osvRecord { return o.byPackage[p.Ecosystem][appPackageKey(p.Ecosystem, p.Name)] },
		func(p AppsPackage, ecosystem, name string) bool {
			return ecosystem == p.Ecosystem && appPackageKey(ecosystem, name) == appPackageKey(p.Ecosystem, p.Name)
		})
	less := func(ecosystem, a, b string) bool { return o.versions.Compare(t, ecosystem, a, b) < 0 }
	return expectFindings(ranges, findingRules[AppsPackage, AppsFinding]{
		keys: func(r osvRange[AppsPackage]) []AppsFinding {
			return perVulnerability(r.rec, func(id string) AppsFinding {
				p := r.pkg
				return AppsFinding{ID: id, Ecosystem: p.Ecosystem, Package: p.Name, Version: p.Version, Location: p.Location}
			})
		},
		covers: func(r osvRange[AppsPackage]) (string, bool) {
			return ascendingCovers(t, r.rec.ID, "ECOSYSTEM", r.typ, r.events, r.pkg.Version,
				func(a, b string) bool { return less(r.pkg.Ecosystem, a, b) })
		},
		collapse: func(k AppsFinding, fixes []string) string {
			return highestFix(fixes, func(a, b string) bool { return less(k.Ecosystem, a, b) })
		},
	})
}

func (f AppsFinding) withFix(fixed string) AppsFinding {
	f.FixedVersion = fixed
	return f
}

func (f AppsFinding) compare(g AppsFinding) int {
	return cmp.Or(strings.Compare(f.ID, g.ID), strings.Compare(f.Package, g.Package), strings.Compare(f.Location, g.Location))
}
