package testenv

import (
	"cmp"
	"path/filepath"
	"slices"
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
func (o *AppsOracle) findings(t testing.TB, pkgs []AppsPackage) []AppsFinding {
	t.Helper()
	fixes := map[AppsFinding][]string{}
	for _, p := range pkgs {
		key := appPackageKey(p.Ecosystem, p.Name)
		for _, rec := range o.byPackage[p.Ecosystem][key] {
			for _, a := range rec.Affected {
				if a.Package.Ecosystem != p.Ecosystem || appPackageKey(p.Ecosystem, a.Package.Name) != key {
					continue
				}
				if len(a.Versions) > 0 {
					t.Fatalf("%s lists versions; the oracle does not evaluate them", rec.ID)
				}
				for _, r := range a.Ranges {
					fixed, affected := o.covers(t, rec.ID, p.Ecosystem, r.Type, r.Events, p.Version)
					if !affected {
						continue
					}
					for _, id := range vulnerabilityIDs(rec) {
						f := AppsFinding{ID: id, Ecosystem: p.Ecosystem, Package: p.Name, Version: p.Version, Location: p.Location}
						fixes[f] = append(fixes[f], fixed)
					}
				}
			}
		}
	}
	out := make([]AppsFinding, 0, len(fixes))
	for f, versions := range fixes {
		out = append(out, o.collapse(t, f, versions))
	}
	slices.SortFunc(out, func(a, b AppsFinding) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Package, b.Package), strings.Compare(a.Location, b.Location))
	})
	return out
}

// collapse gives a finding named by several ranges the highest fix, none if one
// range has none.
func (o *AppsOracle) collapse(t testing.TB, f AppsFinding, fixes []string) AppsFinding {
	t.Helper()
	for _, v := range fixes {
		if v == "" {
			f.FixedVersion = ""
			return f
		}
		if f.FixedVersion == "" || o.versions.Compare(t, f.Ecosystem, v, f.FixedVersion) > 0 {
			f.FixedVersion = v
		}
	}
	return f
}

// covers walks a range's ascending introduced/fixed events: the version is affected
// from an introduced event at or below it to the next fixed event above it.
func (o *AppsOracle) covers(t testing.TB, id, ecosystem, typ string, events []map[string]string, v string) (fixed string, affected bool) {
	t.Helper()
	if typ != "ECOSYSTEM" {
		t.Fatalf("%s has a %s range; the oracle evaluates ECOSYSTEM only", id, typ)
	}
	previous := ""
	for _, e := range events {
		if len(e) != 1 {
			t.Fatalf("%s has an event with %d fields", id, len(e))
		}
		for kind, at := range e {
			if previous != "" && previous != "0" && o.versions.Compare(t, ecosystem, at, previous) < 0 {
				t.Fatalf("%s lists events out of order (%s after %s)", id, at, previous)
			}
			previous = at
			switch kind {
			case "introduced":
				if at == "0" || o.versions.Compare(t, ecosystem, v, at) >= 0 {
					affected = true
				}
			case "fixed":
				if !affected {
					continue
				}
				if o.versions.Compare(t, ecosystem, v, at) < 0 {
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
