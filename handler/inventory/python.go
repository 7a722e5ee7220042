package inventory

import (
	"path"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/purl"
	"github.com/ossf/osv-schema/bindings/go/osvconstants"
)

// maxPythonMetadataBytes bounds what is read of an installed distribution's
// metadata. osv-scalibr's wheelegg extractor stops at the end of the header block
// (the long description after it is never read), so only a hostile header reaches
// this.
const maxPythonMetadataBytes = 8 << 20

// isInstalledPythonMetadata reports whether p is the metadata file of an installed
// Python distribution: <name>.dist-info/METADATA (wheels, pip), <name>.egg-info/PKG-INFO
// or a single-file <name>.egg-info (setuptools, distutils, Debian's python3-*
// packages), or EGG-INFO/PKG-INFO of an unpacked egg. Zipped .whl and .egg files are
// archives waiting to be installed (pip caches, wheelhouses), not installed packages,
// and would have to be read whole: they are not inventoried.
func isInstalledPythonMetadata(p string) bool {
	base, dir := path.Base(p), path.Base(path.Dir(p))
	switch {
	case base == "METADATA":
		return strings.HasSuffix(dir, ".dist-info")
	case base == "PKG-INFO":
		return strings.HasSuffix(dir, ".egg-info") || dir == "EGG-INFO"
	}
	return strings.HasSuffix(base, ".egg-info")
}

// pypiPackage maps a distribution from osv-scalibr's wheelegg extractor into OSV's
// PyPI ecosystem. Name keeps the metadata's spelling ("Jinja2"); the PURL has the
// PEP 503 normalized name, and matching normalizes (advisory.packageName).
func pypiPackage(p *extractor.Package, location string) (Package, bool) {
	if p.PURLType != purl.TypePyPi || p.Name == "" || p.Version == "" {
		return Package{}, false
	}
	pkg := Package{
		Name: p.Name, Version: p.Version, SourceName: p.Name, SourceVersion: p.Version,
		Type: purl.TypePyPi, Ecosystem: string(osvconstants.EcosystemPyPI), Location: location,
	}
	if u := (&extractor.Package{Name: p.Name, Version: p.Version, PURLType: purl.TypePyPi}).PURL(); u != nil {
		pkg.PURL = u.String()
	}
	return pkg, true
}
