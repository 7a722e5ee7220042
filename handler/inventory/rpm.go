package inventory

import (
	"strconv"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	"github.com/google/osv-scalibr/purl"
)

// rpmPubkeyName is the pseudo-package rpm records each imported signing key as; it
// has no architecture nor source rpm and is not installed software.
const rpmPubkeyName = "gpg-pubkey"

// rpmPackage maps a package from osv-scalibr's rpm extractor. Version is
// "[epoch:]version-release", the form rpm-family advisories (AlmaLinux, Rocky) write
// fixes in; an epoch of 0 (or none) is left out, as rpm orders them equally.
// SourceName and SourceVersion come from the source rpm file name
// ("glibc-2.34-28.el9_0.src.rpm"), empty parts defaulting to the binary's.
func rpmPackage(p *extractor.Package, location string) (Package, bool) {
	meta, ok := p.Metadata.(*rpmmeta.Metadata)
	if !ok || p.Name == rpmPubkeyName {
		return Package{}, false
	}
	version := p.Version
	if meta.Epoch > 0 {
		version = strconv.Itoa(meta.Epoch) + ":" + version
	}
	pkg := Package{
		Name:     p.Name,
		Version:  version,
		Arch:     meta.Architecture,
		Type:     purl.TypeRPM,
		Location: location,
	}
	pkg.SourceName, pkg.SourceVersion = sourceRPM(meta.SourceRPM)
	if pkg.SourceName == "" {
		pkg.SourceName = pkg.Name
	}
	if pkg.SourceVersion == "" {
		pkg.SourceVersion = pkg.Version
	}
	return pkg, true
}

// sourceRPM splits a source rpm file name "name-version-release.src.rpm" into name
// and "version-release"; both are empty when it does not have that shape.
func sourceRPM(file string) (name, version string) {
	base, ok := strings.CutSuffix(file, ".src.rpm")
	if !ok {
		base, ok = strings.CutSuffix(file, ".nosrc.rpm")
	}
	if !ok {
		return "", ""
	}
	release := strings.LastIndexByte(base, '-')
	if release <= 0 {
		return "", ""
	}
	ver := strings.LastIndexByte(base[:release], '-')
	if ver <= 0 {
		return "", ""
	}
	return base[:ver], base[ver+1:]
}

// rpmPURL is the package URL of an rpm package, computed by osv-scalibr from the
// image's distribution ("pkg:rpm/almalinux/glibc@2.34-28.el9_0?arch=aarch64&distro=almalinux-9.0").
func rpmPURL(p Package, os *OS) string {
	epoch, version := 0, p.Version
	if e, rest, ok := strings.Cut(p.Version, ":"); ok {
		if n, err := strconv.Atoi(e); err == nil {
			epoch, version = n, rest
		}
	}
	meta := &rpmmeta.Metadata{PackageName: p.Name, Epoch: epoch, Architecture: p.Arch}
	if p.SourceName != p.Name || p.SourceVersion != p.Version {
		meta.SourceRPM = p.SourceName + "-" + p.SourceVersion + ".src.rpm"
	}
	if os != nil {
		meta.OSID, meta.OSVersionID = os.ID, os.VersionID
	}
	u := (&extractor.Package{Name: p.Name, Version: version, PURLType: purl.TypeRPM, Metadata: meta}).PURL()
	if u == nil {
		return ""
	}
	return u.String()
}
