package inventory

import (
	"errors"
	"fmt"
	"io"

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

// osPackagePURL is the package URL of an OS package, computed from the image's
// distribution: for dpkg by osv-scalibr (namespace "debian", distro "bookworm"; a
// source name or version equal to the binary's is left out, as the database leaves
// it out), for apk by apkPURL.
func osPackagePURL(p Package, os *OS) string {
	if p.Type == "apk" {
		return apkPURL(p, os)
	}
	meta := &dpkgmeta.Metadata{PackageName: p.Name, PackageVersion: p.Version, Architecture: p.Arch}
	if p.SourceName != p.Name {
		meta.SourceName = p.SourceName
	}
	if p.SourceVersion != p.Version {
		meta.SourceVersion = p.SourceVersion
	}
	if os != nil {
		meta.OSID, meta.OSVersionCodename, meta.OSVersionID = os.ID, os.VersionCodename, os.VersionID
	}
	purlType := purl.TypeDebian
	if p.Type == "opkg" {
		purlType = purl.TypeOpkg
	}
	u := (&extractor.Package{Name: p.Name, Version: p.Version, PURLType: purlType, Metadata: meta}).PURL()
	if u == nil {
		return ""
	}
	return u.String()
}

// Bounds of one dpkg database read as a stream. Real stanzas are a few KiB (the
// largest, with long conffile lists, well under 1 MiB) and real databases hold a
// few thousand packages; the bounds keep a hostile file from making the parser hold
// more than about maxStanzaBytes of text or maxStanzas packages.
const (
	maxStanzaBytes = 4 << 20
	maxStanzas     = 200_000
)

// errStanzaBounds is the error a stanzaGuard stops a read with.
var errStanzaBounds = errors.New("package database exceeds the parser's bounds")

// stanzaGuard passes a database of blank-line separated stanzas (dpkg's status, apk's
// installed) through, failing once a stanza grows past maxBytes or the file holds
// more than maxStanzas stanzas. The extractor then returns the packages it had
// parsed (the dpkg extractor swallows the error for a status.d file, which is why
// Err exists), and the file is reported as skipped.
type stanzaGuard struct {
	r          io.Reader
	maxBytes   int64
	maxStanzas int
	inStanza   int64
	stanzas    int
	lastLF     bool
	err        error
}

// newStanzaGuard bounds a dpkg database.
func newStanzaGuard(r io.Reader) guardedReader {
	return &stanzaGuard{r: r, maxBytes: maxStanzaBytes, maxStanzas: maxStanzas, lastLF: true}
}

// Err returns the bound the stream exceeded, nil if none.
func (g *stanzaGuard) Err() error { return g.err }

func (g *stanzaGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i, b := range p[:n] {
		if b == '\n' && g.lastLF {
			g.inStanza = 0
			continue
		}
		if g.inStanza == 0 && b != '\n' {
			g.stanzas++
		}
		g.lastLF = b == '\n'
		g.inStanza++
		switch {
		case g.inStanza > g.maxBytes:
			g.err = fmt.Errorf("a stanza is longer than %d MiB: %w", g.maxBytes>>20, errStanzaBounds)
		case g.stanzas > g.maxStanzas:
			g.err = fmt.Errorf("more than %d stanzas: %w", g.maxStanzas, errStanzaBounds)
		default:
			continue
		}
		// The parser fails on the stanza being read, so that stanza is not reported.
		return i, g.err
	}
	return n, err
}
