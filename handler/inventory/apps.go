package inventory

import (
	"path"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/dotnet/depsjson"
	"github.com/ossf/osv-schema/bindings/go/osvconstants"
)

// maxManifestBytes caps an application manifest an extractor reads whole and
// decodes in memory (a .NET deps.json, a Composer installed.json): real ones are
// kilobytes, so a bigger one is reported as a SkippedFile rather than decoded.
// It is osv-scalibr's own deps.json default, applied by Tidewatch so that the file
// is reported instead of silently declined.
const maxManifestBytes = 10 << 20

// applicationPackage maps a package of an application ecosystem whose extractor
// names it as OSV does (NuGet, crates.io, RubyGems, Packagist): the name and version
// as written, the location the file it was read from.
func applicationPackage(ecosystem osvconstants.Ecosystem) func(p *extractor.Package, location string) (Package, bool) {
	return func(p *extractor.Package, location string) (Package, bool) {
		if p.Name == "" || p.Version == "" {
			return Package{}, false
		}
		pkg := Package{
			Name: p.Name, Version: p.Version, SourceName: p.Name, SourceVersion: p.Version,
			Type: p.PURLType, Ecosystem: string(ecosystem), Location: location,
		}
		if u := (&extractor.Package{Name: p.Name, Version: p.Version, PURLType: p.PURLType}).PURL(); u != nil {
			pkg.PURL = u.String()
		}
		return pkg, true
	}
}

// nugetPackage maps a deps.json library. Only libraries of type "package" come from
// NuGet; "project" (the application itself, or a project it references) and
// "reference" entries are built locally and have no NuGet advisories.
func nugetPackage(p *extractor.Package, location string) (Package, bool) {
	if meta, ok := p.Metadata.(*depsjson.Metadata); ok && meta.Type != "package" {
		return Package{}, false
	}
	return applicationPackage(osvconstants.EcosystemNuGet)(p, location)
}

// installedGemspec narrows osv-scalibr's gemspec extractor to the specifications
// RubyGems writes for installed gems (…/specifications/<name>-<version>.gemspec,
// default gems under specifications/default/ included). A gem's own source
// gemspec, shipped inside its directory, often computes the version in Ruby the
// extractor cannot run, and would list the gem a second time.
type installedGemspec struct {
	filesystem.Extractor
}

// FileRequired wants *.gemspec files in a specifications directory.
func (g installedGemspec) FileRequired(api filesystem.FileAPI) bool {
	dir := path.Dir(api.Path())
	if path.Base(dir) == "default" {
		dir = path.Dir(dir)
	}
	return path.Base(dir) == "specifications" && g.Extractor.FileRequired(api)
}
