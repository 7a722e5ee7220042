package inventory

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	"github.com/google/osv-scalibr/inventory"
	"github.com/google/osv-scalibr/purl"
	"github.com/ossf/osv-schema/bindings/go/osvconstants"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
)

// Bounds of one Java archive (a jar, war or ear) and the archives nested in it.
const (
	// maxJavaArchiveBytes caps an archive and everything read out of it: the outer
	// archive is buffered in memory (up to maxBufferedFileBytes, the same 64 MiB) and
	// the nested archives and descriptors (MANIFEST.MF, pom.properties) it holds are
	// inflated into memory against what is left of this budget. A tree that needs
	// more is a SkippedFile.
	maxJavaArchiveBytes = maxBufferedFileBytes
	// maxJavaArchiveDepth is how many archives deep the extractor looks, the outer
	// one being 1: a Spring Boot jar's BOOT-INF/lib jars are 2, an ear's war's
	// WEB-INF/lib jars 3. Deeper nesting is a SkippedFile.
	maxJavaArchiveDepth = 4
	// maxJavaArchiveEntries caps the entries of one archive's central directory.
	maxJavaArchiveEntries = 200_000
	// maxJavaDescriptorBytes caps one MANIFEST.MF or pom.properties.
	maxJavaDescriptorBytes = 1 << 20
)

// newJavaArchivePlugin returns osv-scalibr's Java archive extractor behind
// javaArchiveGuard, with its own limits set to Tidewatch's: the guard enforces
// them first, so the extractor's never trip.
func newJavaArchivePlugin() (plugin, error) {
	hashJars, fromFilename, fromPomXML := false, true, false
	e, err := archive.New(&cpb.PluginConfig{PluginSpecific: []*cpb.PluginSpecificConfig{{
		Config: &cpb.PluginSpecificConfig_JavaArchive{JavaArchive: &cpb.JavaArchiveConfig{
			MaxFileSizeBytes:    maxJavaArchiveBytes,
			MaxZipDepth:         maxJavaArchiveDepth,
			MaxOpenedBytes:      maxJavaArchiveBytes,
			HashJars:            &hashJars,
			ExtractFromFilename: &fromFilename,
			ExtractFromPomXml:   &fromPomXML,
		}},
	}}})
	if err != nil {
		return plugin{}, fmt.Errorf("creating Java archive extractor: %w", err)
	}
	return plugin{extractor: javaArchiveGuard{e}, convert: mavenPackage, randomAccess: true}, nil
}

// javaArchiveGuard checks an archive tree against Tidewatch's bounds (checkJavaArchive)
// before osv-scalibr's extractor reads it. The extractor opens nested archives and
// descriptors at the sizes their central directories state; the check reads every
// one of them first, so a lying directory, a bomb or a tree too deep or too big is
// rejected whole, with a reason naming the entry, before anything is parsed.
type javaArchiveGuard struct {
	filesystem.Extractor
}

// FileRequired wants Java archives of any size: one above the cap is then reported
// skipped (extractEntry) instead of declined in silence.
func (g javaArchiveGuard) FileRequired(api filesystem.FileAPI) bool {
	return archive.IsArchive(api.Path())
}

// Extract checks the archive buffered in input.Reader, then extracts it.
func (g javaArchiveGuard) Extract(ctx context.Context, input *filesystem.ScanInput) (inventory.Inventory, error) {
	r, ok := input.Reader.(*bytes.Reader)
	if !ok {
		return inventory.Inventory{}, errors.New("java archive not buffered")
	}
	budget := int64(maxJavaArchiveBytes) - r.Size()
	if err := checkJavaArchive(ctx, r, r.Size(), "", 1, &budget); err != nil {
		return inventory.Inventory{}, err
	}
	return g.Extractor.Extract(ctx, input)
}

// mavenPackage maps a package of osv-scalibr's Java archive extractor into the
// Maven ecosystem, named group:artifact as OSV's Maven records name it, at the
// archive it was read from: the file's path, or for a nested archive
// outer.jar!/BOOT-INF/lib/inner.jar (the jar: URL convention), innermost last.
// Packages the extractor could not identify ("unknown") are dropped.
func mavenPackage(p *extractor.Package, location string) (Package, bool) {
	group, artifact, ok := strings.Cut(p.Name, ":")
	if p.PURLType != purl.TypeMaven || !ok || group == "" || artifact == "" || p.Version == "" || p.Version == "unknown" {
		return Package{}, false
	}
	u := purl.PackageURL{Type: purl.TypeMaven, Namespace: group, Name: artifact, Version: p.Version}
	return Package{
		Name: p.Name, Version: p.Version, SourceName: p.Name, SourceVersion: p.Version,
		Type: purl.TypeMaven, Ecosystem: string(osvconstants.EcosystemMaven), PURL: u.String(),
		Location: nestedLocation(p, location),
	}, true
}

// nestedLocation rewrites osv-scalibr's location of a package found in a nested
// archive (descriptor the outer path, related the nested archives' paths each joined
// to its parent's with "/", then the descriptor file) into location!/inner!/…: the
// archives among them, each relative to the one before.
func nestedLocation(p *extractor.Package, location string) string {
	out, parent := location, location
	for _, l := range p.Location.Related {
		inner := l.PathOrEmpty()
		rest, ok := strings.CutPrefix(inner, parent+"/")
		if !ok || !archive.IsArchive(inner) {
			continue
		}
		out += "!/" + rest
		parent = inner
	}
	return out
}

// checkJavaArchive reads the central directory of the archive in r (size bytes, at
// inner within the outer archive, depth archives deep) and every descriptor and
// nested archive osv-scalibr's extractor would open, against budget (bytes left to
// inflate) and the depth and entry caps. It returns the first problem found.
func checkJavaArchive(ctx context.Context, r io.ReaderAt, size int64, inner string, depth int, budget *int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("%snot a readable zip: %w", at(inner), err)
	}
	if len(zr.File) > maxJavaArchiveEntries {
		return fmt.Errorf("%s%d entries, more than %d", at(inner), len(zr.File), maxJavaArchiveEntries)
	}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := inner + f.Name
		descriptor := isJavaDescriptor(f.Name)
		nested := archive.IsArchive(f.Name)
		switch {
		case !descriptor && !nested:
			continue
		case descriptor && f.UncompressedSize64 > maxJavaDescriptorBytes:
			return fmt.Errorf("%s states %d bytes, more than the %d KiB read of a descriptor",
				name, f.UncompressedSize64, maxJavaDescriptorBytes>>10)
		case nested && depth+1 > maxJavaArchiveDepth:
			return fmt.Errorf("%s is nested more than %d archives deep", name, maxJavaArchiveDepth)
		case f.UncompressedSize64 > uint64(max(*budget, 0)):
			return fmt.Errorf("%s states %d bytes, more than the %d bytes left of the %d MiB an archive and its contents may inflate to",
				name, f.UncompressedSize64, max(*budget, 0), maxJavaArchiveBytes>>20)
		}
		data, err := readZipFile(f)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		*budget -= int64(len(data))
		if nested {
			if err := checkJavaArchive(ctx, bytes.NewReader(data), int64(len(data)), name+"!/", depth+1, budget); err != nil {
				return err
			}
		}
	}
	return nil
}

// at prefixes a message with the nested archive it is about.
func at(inner string) string {
	if inner == "" {
		return ""
	}
	return strings.TrimSuffix(inner, "!/") + ": "
}

// isJavaDescriptor reports whether the extractor parses the zip entry name, as it
// decides: by filepath.Base, which also names "META-INF/MANIFEST.MF/" MANIFEST.MF.
func isJavaDescriptor(name string) bool {
	base := filepath.Base(name)
	return base == "pom.properties" || strings.EqualFold(base, "manifest.mf")
}

// readZipFile inflates one entry into a buffer of the size the central directory
// states (checked against the budget by the caller); archive/zip fails a stream
// longer or shorter than that, and checks the CRC at its end, so a lying entry is an
// error, never more bytes.
func readZipFile(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data := make([]byte, f.UncompressedSize64)
	if _, err := io.ReadFull(rc, data); err != nil {
		return nil, err
	}
	// The end of the stream is where archive/zip reports a bad CRC or extra bytes.
	var probe [1]byte
	if n, err := rc.Read(probe[:]); n > 0 || !errors.Is(err, io.EOF) {
		return nil, cmp.Or(err, errors.New("longer than its central directory states"))
	}
	return data, nil
}
