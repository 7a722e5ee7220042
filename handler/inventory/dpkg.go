package inventory

import (
	"github.com/google/osv-scalibr/extractor"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/purl"
)

// debPackage maps a package from osv-scalibr's dpkg extractor. Debian omits the
// source name or version when it equals the binary's, so they default to those.
func debPackage(p *extractor.Package, location string) (Package, bool) {
	meta, ok := p.Metadata.(*dpkgmeta.Metadata)
	if !ok {
		return Package{}, false
	}
	pkg := Package{
		Name:          p.Name,
		Version:       p.Version,
		SourceName:    meta.SourceName,
		SourceVersion: meta.SourceVersion,
		Arch:          meta.Architecture,
		Type:          "deb",
		Location:      location,
	}
	if p.PURLType == purl.TypeOpkg {
		pkg.Type = "opkg"
	}
	if pkg.SourceName == "" {
		pkg.SourceName = pkg.Name
	}
	if pkg.SourceVersion == "" {
		pkg.SourceVersion = pkg.Version
	}
	return pkg, true
}
