package inventory

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"testing/fstest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/osv-scalibr/extractor/filesystem"

	"github.com/tidewatch/tidewatch/handler/image"
)

// maxOSReleaseBytes caps how much of an os-release file is read.
const maxOSReleaseBytes = 64 << 10

// AnalyzeLayer walks one layer once and records its package-database files, its
// os-release files and its whiteouts. Errors keep the chain of image.WalkLayer, so
// callers can tell a failed blob read (retry) from image.ErrMalformed (permanent).
func AnalyzeLayer(ctx context.Context, layer v1.Layer) (*LayerResult, error) {
	diffID, err := layer.DiffID()
	if err != nil {
		return nil, fmt.Errorf("reading layer diffID: %w", err)
	}
	ps, err := plugins()
	if err != nil {
		return nil, err
	}
	a := &layerAnalysis{
		ctx:     ctx,
		plugins: ps,
		// The dpkg extractor looks up os-release in ScanInput.FS to annotate its
		// packages; a layer is not a filesystem, so give it an empty os-release
		// (Merge detects the distribution) rather than a nil FS or a logged miss.
		fsys: fstest.MapFS{"etc/os-release": &fstest.MapFile{}},
		result: &LayerResult{
			DiffID:         diffID.String(),
			Analyzer:       Analyzer,
			PackageFiles:   map[string][]Package{},
			OSReleaseFiles: map[string]OSReleaseFile{},
		},
	}
	stats, err := image.WalkLayer(ctx, layer, a.visit)
	if err != nil {
		return nil, fmt.Errorf("analyzing layer %s: %w", diffID, err)
	}
	a.result.Files, a.result.Bytes = stats.Files, stats.Bytes
	return a.result, nil
}

// layerAnalysis is the state of one AnalyzeLayer call.
type layerAnalysis struct {
	ctx     context.Context
	plugins []plugin
	fsys    fstest.MapFS
	result  *LayerResult
}

func (a *layerAnalysis) visit(e image.Entry) error {
	if deleted, ok := e.Whiteout(); ok {
		a.result.Whiteouts = append(a.result.Whiteouts, deleted)
		return nil
	}
	if dir, ok := e.OpaqueDir(); ok {
		a.result.OpaqueDirs = append(a.result.OpaqueDirs, dir)
		return nil
	}
	osRelease := path.Base(e.Path) == "os-release"
	switch e.Header.Typeflag {
	case tar.TypeSymlink:
		if osRelease {
			a.result.OSReleaseFiles[e.Path] = OSReleaseFile{LinkTarget: e.Header.Linkname}
		}
		return nil
	case tar.TypeLink:
		if osRelease {
			a.result.OSReleaseFiles[e.Path] = OSReleaseFile{LinkTarget: "/" + path.Clean(e.Header.Linkname)}
		}
		return nil
	case tar.TypeReg:
	default:
		return nil
	}

	api := entryFileAPI{path: e.Path, info: e.Header.FileInfo()}
	var wanting []plugin
	for _, p := range a.plugins {
		if p.extractor.FileRequired(api) {
			wanting = append(wanting, p)
		}
	}
	if !osRelease && len(wanting) == 0 {
		return nil
	}
	if len(wanting) > 0 {
		// A later entry for the same path in this layer replaces an earlier one.
		a.result.PackageFiles[e.Path] = []Package{}
	}
	if !osRelease && len(wanting) == 1 {
		return a.extract(wanting[0], e, api.info, e.Reader)
	}
	// Several readers want the file: read it once.
	limit := int64(-1)
	if len(wanting) == 0 {
		limit = maxOSReleaseBytes
	}
	contents, err := readAll(e.Reader, limit)
	if err != nil {
		return fmt.Errorf("reading %s: %w", e.Path, err)
	}
	if osRelease {
		release := parseOSRelease(contents)
		a.result.OSReleaseFiles[e.Path] = OSReleaseFile{Release: &release}
	}
	for _, p := range wanting {
		if err := a.extract(p, e, api.info, bytes.NewReader(contents)); err != nil {
			return err
		}
	}
	return nil
}

// extract runs one extractor over one file and records the packages it lists.
func (a *layerAnalysis) extract(p plugin, e image.Entry, info fs.FileInfo, contents io.Reader) error {
	input := &filesystem.ScanInput{FS: a.fsys, Path: e.Path, Root: "/", Info: info, Reader: contents}
	found, err := p.extractor.Extract(a.ctx, input)
	if err != nil {
		return fmt.Errorf("extracting %s with %s: %w", e.Path, p.extractor.Name(), err)
	}
	pkgs := a.result.PackageFiles[e.Path]
	for _, found := range found.Packages {
		if pkg, ok := p.convert(found, e.Path); ok {
			pkgs = append(pkgs, pkg)
		}
	}
	a.result.PackageFiles[e.Path] = pkgs
	return nil
}

// readAll reads r whole, or its first limit bytes when limit >= 0.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	if limit >= 0 {
		r = io.LimitReader(r, limit)
	}
	return io.ReadAll(r)
}

// entryFileAPI is the filesystem.FileAPI of a tar entry.
type entryFileAPI struct {
	path string
	info fs.FileInfo
}

func (f entryFileAPI) Path() string               { return f.path }
func (f entryFileAPI) Stat() (fs.FileInfo, error) { return f.info, nil }
