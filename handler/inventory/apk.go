package inventory

import (
	"io"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	"github.com/google/osv-scalibr/purl"
)

// Bounds of one apk installed database read as a stream. A record lists every file
// of its package (R: and Z: lines), so a package of tens of thousands of files has
// a record of a few MiB; the bounds keep a hostile file from making the parser hold
// more than about maxApkRecordBytes of lines or maxStanzas packages. Lines are
// bounded by the extractor's own scanner (64 KiB), whose error skips the file.
const maxApkRecordBytes = 32 << 20

// newApkGuard bounds an apk installed database.
func newApkGuard(r io.Reader) guardedReader {
	return &stanzaGuard{r: r, maxBytes: maxApkRecordBytes, maxStanzas: maxStanzas, lastLF: true}
}

// apkPackage maps a package from osv-scalibr's apk extractor. Its origin (o:) is the
// source package the distribution's advisories name; apk leaves it out when it is the
// package itself. An origin builds all its subpackages at one version, so the source
// version is the package's.
func apkPackage(p *extractor.Package, location string) (Package, bool) {
	meta, ok := p.Metadata.(*apkmeta.Metadata)
	if !ok {
		return Package{}, false
	}
	pkg := Package{
		Name:          p.Name,
		Version:       p.Version,
		SourceName:    meta.OriginName,
		SourceVersion: p.Version,
		Arch:          meta.Architecture,
		Type:          purl.TypeApk,
		Location:      location,
	}
	if pkg.SourceName == "" {
		pkg.SourceName = pkg.Name
	}
	return pkg, true
}

// apkPURL is the package URL of an apk package as osv-scalibr writes it
// (pkg:apk/alpine/libssl1.0@1.0.2h-r1?arch=x86_64&distro=3.4.0&origin=openssl),
// with the namespace and distro of the image's os-release; an image without one
// is namespaced "alpine", osv-scalibr's fallback. It is built here rather than by
// osv-scalibr, which logs an error for every package of an image without VERSION_ID.
func apkPURL(p Package, os *OS) string {
	namespace, q := "alpine", map[string]string{}
	if os != nil && os.ID != "" {
		namespace = os.ID
	}
	if os != nil && os.VersionID != "" {
		q[purl.Distro] = os.VersionID
	}
	if p.SourceName != "" {
		q[purl.Origin] = p.SourceName
	}
	if p.Arch != "" {
		q[purl.Arch] = p.Arch
	}
	u := purl.PackageURL{
		Type: purl.TypeApk, Namespace: namespace, Name: strings.ToLower(p.Name), Version: p.Version,
		Qualifiers: purl.QualifiersFromMap(q),
	}
	return u.String()
}

// apkDistributions are the os-release IDs whose OS packages are apk's: only there do
// apk packages take the OS's advisory ecosystem.
var apkDistributions = map[string]bool{"alpine": true, "wolfi": true, "chainguard": true}
