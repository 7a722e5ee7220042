package inventory

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/purl"

	"github.com/tidewatch/tidewatch/handler/image"
)

// maxOSReleaseBytes caps how much of an os-release file is read.
const maxOSReleaseBytes = 64 << 10

// AnalyzeLayer walks one layer once and records its package-database files (and the
// packages in them), its os-release files, its links to package databases and its
// whiteouts. A layer with a package database linked to a file elsewhere in the
// same layer is walked a second time to read that file.
//
// Every consumer of an entry bounds what it holds (os-release 64 KiB, buffered
// binaries maxBufferedFileBytes, dpkg databases stanzaGuard), so the walk's own
// per-file cap is lifted to the layer cap and a large database is read as a stream.
// What cannot be read whole is recorded in LayerResult.Skipped, never dropped.
//
// Errors keep the chain of image.WalkLayer, so callers can tell a failed blob read
// (retry) from image.ErrMalformed (permanent).
func AnalyzeLayer(ctx context.Context, layer v1.Layer) (*LayerResult, error) {
	ps, err := plugins()
	if err != nil {
		return nil, err
	}
	return analyzeLayer(ctx, layer, ps)
}

func analyzeLayer(ctx context.Context, layer v1.Layer, ps []plugin) (*LayerResult, error) {
	diffID, err := layer.DiffID()
	if err != nil {
		return nil, fmt.Errorf("reading layer diffID: %w", err)
	}
	digest, err := layer.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading layer digest: %w", err)
	}
	a := &layerAnalysis{
		ctx:       ctx,
		plugins:   ps,
		symlinks:  map[string]string{},
		hardLinks: map[string]string{},
		result: &LayerResult{
			DiffID:         diffID.String(),
			Analyzer:       analyzerVersion(ps),
			PackageFiles:   map[string][]Package{},
			Skipped:        map[string]string{},
			Links:          map[string]string{},
			HardLinks:      map[string]string{},
			OSReleaseFiles: map[string]OSReleaseFile{},
			Digests:        []string{digest.String()},
		},
	}
	stats, err := image.WalkLayer(ctx, layer, a.visit, image.WithMaxFileBytes(image.DefaultMaxBytes))
	if err != nil {
		return nil, fmt.Errorf("analyzing layer %s: %w", diffID, err)
	}
	a.result.Files, a.result.Bytes = stats.Files, stats.Bytes
	a.copyHardLinkedApplications()
	if targets := a.linksWithinLayer(); len(targets) > 0 {
		a.targets = targets
		if _, err := image.WalkLayer(ctx, layer, a.visitTarget, image.WithMaxFileBytes(image.DefaultMaxBytes)); err != nil {
			return nil, fmt.Errorf("analyzing layer %s for link targets: %w", diffID, err)
		}
	}
	a.result.compact()
	return a.result, nil
}

// compact drops empty maps so results compare and serialise as before.
func (r *LayerResult) compact() {
	if len(r.Skipped) == 0 {
		r.Skipped = nil
	}
	if len(r.Links) == 0 {
		r.Links = nil
	}
	if len(r.HardLinks) == 0 {
		r.HardLinks = nil
	}
}

// layerAnalysis is the state of one AnalyzeLayer call.
type layerAnalysis struct {
	ctx     context.Context
	plugins []plugin
	result  *LayerResult
	// targets maps each regular file to read in the second walk to the links (at
	// package-database paths) that resolve to it.
	targets map[string][]string
	// symlinks holds every link of the layer (path → root-relative target), up to
	// maxLayerLinks, to resolve package-database links through other links and
	// linked directories of the same layer.
	symlinks map[string]string
	// hardLinks holds the layer's hard links (path → root-relative target), up to
	// maxLayerLinks, to give a hard-linked binary its packages at every path.
	hardLinks map[string]string
	// head (the start of an entry, for sniffing) and buf (a buffered entry) are
	// reused from one entry to the next.
	head bufio.Reader
	buf  bytes.Buffer
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
	// A later entry for the same path in this layer replaces an earlier one.
	a.forget(e.Path)
	osRelease := path.Base(e.Path) == "os-release"
	switch e.Header.Typeflag {
	case tar.TypeSymlink, tar.TypeLink:
		target := linkTarget(e)
		a.recordLink(e.Path, target)
		if e.Header.Typeflag == tar.TypeLink && len(a.hardLinks) < maxLayerLinks {
			a.hardLinks[e.Path] = target
		}
		if osRelease {
			a.result.OSReleaseFiles[e.Path] = OSReleaseFile{LinkTarget: osReleaseLinkTarget(e)}
		} else if a.wantsLink(e.Path) {
			a.result.Links[e.Path] = target
		}
		return nil
	case tar.TypeReg, tar.TypeGNUSparse:
		// Go's tar reader presents a sparse entry's holes as zeros, so a sparse file
		// is read like any other.
	default:
		return nil
	}
	if isContentManifest(e.Path) {
		return a.readContentManifest(e)
	}
	if osRelease {
		contents, err := io.ReadAll(io.LimitReader(e.Reader, maxOSReleaseBytes))
		if err != nil {
			return fmt.Errorf("reading %s: %w", e.Path, err)
		}
		release := parseOSRelease(contents)
		a.result.OSReleaseFiles[e.Path] = OSReleaseFile{Release: &release}
		return nil
	}
	info := e.Header.FileInfo()
	return a.extractEntry(e.Path, e.Path, info, e.Reader, a.wanting(e.Path, info))
}

// forget drops what an earlier entry at p in this layer recorded.
func (a *layerAnalysis) forget(p string) {
	delete(a.hardLinks, p)
	delete(a.result.PackageFiles, p)
	delete(a.result.Skipped, p)
	delete(a.result.Links, p)
	delete(a.result.OSReleaseFiles, p)
	delete(a.result.ContentManifests, p)
}

// readContentManifest records a content manifest's content sets, or the file as
// skipped with the reason it could not be read: the rest of the layer is analyzed
// either way.
func (a *layerAnalysis) readContentManifest(e image.Entry) error {
	if len(a.result.ContentManifests) >= maxContentManifestsPerLayer {
		a.result.Skipped[e.Path] = fmt.Sprintf("more than %d content manifests in one layer", maxContentManifestsPerLayer)
		return nil
	}
	sets, err := readContentManifest(e.Reader)
	var reason skipReason
	switch {
	case errors.As(err, &reason):
		a.result.Skipped[e.Path] = string(reason)
		return nil
	case err != nil:
		return fmt.Errorf("reading %s: %w", e.Path, err)
	}
	if a.result.ContentManifests == nil {
		a.result.ContentManifests = map[string][]string{}
	}
	a.result.ContentManifests[e.Path] = sets
	return nil
}

// wanting returns the plugins that want the file at p.
func (a *layerAnalysis) wanting(p string, info fs.FileInfo) []plugin {
	api := entryFileAPI{path: p, info: info}
	var out []plugin
	for _, pl := range a.plugins {
		if pl.extractor.FileRequired(api) {
			out = append(out, pl)
		}
	}
	return out
}

// wantsLink reports whether a link at p stands for a package database.
func (a *layerAnalysis) wantsLink(p string) bool {
	for _, pl := range a.wanting(p, regularFileInfo{name: path.Base(p)}) {
		if pl.followLinks {
			return true
		}
	}
	return false
}

// extractEntry runs the wanting plugins over one file, read from contents, and
// records its packages under location (the path package managers read: the entry's
// own, or the link's that led to it).
func (a *layerAnalysis) extractEntry(entryPath, location string, info fs.FileInfo, contents io.Reader, wanting []plugin) error {
	if len(wanting) == 0 {
		return nil
	}
	// A wanted file replaces what lower layers had at its path even when its first
	// bytes show it holds no packages: an executable script over a Go binary.
	a.result.PackageFiles[location] = []Package{}
	a.head.Reset(contents)
	streamers, buffered, err := a.sniff(wanting)
	if err != nil {
		return fmt.Errorf("reading %s: %w", entryPath, err)
	}
	streamers = a.withinCaps(location, info, streamers)
	if len(streamers)+len(buffered) == 0 {
		return nil
	}
	if len(buffered) > 0 && info.Size() > maxBufferedFileBytes {
		if len(streamers) == 0 && !slices.ContainsFunc(buffered, func(p plugin) bool { return p.openByPath || p.markers == nil }) {
			// Only executables too big to read: report those carrying an extractor's
			// marker (Go build info, cargo-auditable data), not every large binary.
			return a.skipIfMarked(entryPath, location, info, buffered)
		}
		a.skip(location, fmt.Sprintf("%d bytes is more than the %d MiB read whole for %s: not inspected",
			info.Size(), maxBufferedFileBytes>>20, buffered[0].extractor.Name()))
		if len(streamers) == 0 {
			return nil
		}
		buffered = nil
	}
	if len(buffered) == 0 && len(streamers) == 1 {
		return a.extract(streamers[0], location, info, &a.head, nil)
	}
	return a.extractBuffered(entryPath, location, info, append(streamers, buffered...))
}

// sniff drops the plugins whose sniff rejects the file's first bytes (in a.head)
// and sorts the rest into streaming and random-access ones.
func (a *layerAnalysis) sniff(wanting []plugin) (streamers, buffered []plugin, err error) {
	peeked, err := a.head.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	for _, pl := range wanting {
		switch {
		case pl.sniff != nil && !pl.sniff(peeked):
		case pl.randomAccess:
			buffered = append(buffered, pl)
		default:
			streamers = append(streamers, pl)
		}
	}
	return streamers, buffered, nil
}

// withinCaps drops the plugins whose maxBytes the file exceeds, recording why.
func (a *layerAnalysis) withinCaps(location string, info fs.FileInfo, ps []plugin) []plugin {
	var out []plugin
	for _, pl := range ps {
		if pl.maxBytes > 0 && info.Size() > pl.maxBytes {
			a.skip(location, fmt.Sprintf("%d bytes is more than the %d MiB %s reads whole: not inspected",
				info.Size(), pl.maxBytes>>20, pl.extractor.Name()))
			continue
		}
		out = append(out, pl)
	}
	return out
}

// skipIfMarked handles an executable too big to hold: most are neither Go nor
// cargo-auditable Rust binaries, which the stream tells from the plugins' markers;
// one that is is reported skipped.
func (a *layerAnalysis) skipIfMarked(entryPath, location string, info fs.FileInfo, ps []plugin) error {
	var markers [][]byte
	for _, pl := range ps {
		markers = append(markers, pl.markers...)
	}
	found, err := containsMarkers(&a.head, markers)
	if err != nil {
		return fmt.Errorf("reading %s: %w", entryPath, err)
	}
	for _, pl := range ps {
		if slices.Contains(found[:len(pl.markers)], true) {
			a.skip(location, fmt.Sprintf("%s of %d bytes, more than the %d MiB read whole: its packages were not read",
				pl.kind, info.Size(), maxBufferedFileBytes>>20))
		}
		found = found[len(pl.markers):]
	}
	return nil
}

// extractBuffered reads the file (in a.head) into memory once, up to
// maxBufferedFileBytes, for several extractors or one that needs random access.
func (a *layerAnalysis) extractBuffered(entryPath, location string, info fs.FileInfo, ps []plugin) error {
	a.buf.Reset()
	a.buf.Grow(int(min(info.Size(), maxBufferedFileBytes)) + bytes.MinRead)
	if _, err := a.buf.ReadFrom(io.LimitReader(&a.head, maxBufferedFileBytes+1)); err != nil {
		return fmt.Errorf("reading %s: %w", entryPath, err)
	}
	if a.buf.Len() > maxBufferedFileBytes {
		a.skip(location, fmt.Sprintf("more than %d MiB: not inspected", maxBufferedFileBytes>>20))
		return nil
	}
	for _, pl := range ps {
		if err := a.extract(pl, location, info, nil, a.buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// extract runs one extractor over one file, read from stream or, when buffered, from
// data, and records the packages it lists. The extractor sees only the file
// (ScanInput.Reader, and ScanInput.FS when buffered, see entryView) and a Root that
// does not resolve on the host (virtualRoot).
//
// A failure to read the layer is returned for the walk to classify (and the caller
// to retry); a file the extractor cannot parse, or that exceeds a bound, keeps the
// packages read before the problem and becomes a skipped file.
func (a *layerAnalysis) extract(pl plugin, location string, info fs.FileInfo, stream io.Reader, data []byte) error {
	if pl.openByPath {
		return a.extractRPMDatabase(pl, location, info, data)
	}
	var reader io.Reader
	var source *readTracker
	var guard guardedReader
	if data != nil {
		reader = bytes.NewReader(data) // an io.ReaderAt for extractors that need one
	} else {
		source = &readTracker{r: stream}
		reader = source
		if pl.guard != nil {
			guard = pl.guard(reader)
			reader = guard
		}
	}
	input := &filesystem.ScanInput{FS: entryView(location, info, data), Path: location, Root: virtualRoot, Info: info, Reader: reader}
	found, err := pl.extractor.Extract(a.ctx, input)
	// Extractors may swallow read errors (dpkg does for status.d files), so the
	// readers are asked, not just the extractor's error.
	switch {
	case a.ctx.Err() != nil:
		return a.ctx.Err()
	case source != nil && source.err != nil:
		return fmt.Errorf("extracting %s with %s: %w", location, pl.extractor.Name(), source.err)
	case guard != nil && guard.Err() != nil:
		a.skip(location, fmt.Sprintf("%s stopped reading it: %v", pl.extractor.Name(), guard.Err()))
	case err != nil:
		a.skip(location, fmt.Sprintf("%s could not read it whole: %v", pl.extractor.Name(), err))
	case pl.nothingFound != "" && len(found.Packages) == 0:
		a.skip(location, fmt.Sprintf("%s read nothing from it: %s", pl.extractor.Name(), pl.nothingFound))
	case pl.markedButUnread != "" && len(found.Packages) == 0 && holdsAny(data, pl.markers):
		a.skip(location, fmt.Sprintf("%s read nothing from it: %s", pl.extractor.Name(), pl.markedButUnread))
	}
	pkgs := a.result.PackageFiles[location]
	for _, found := range found.Packages {
		if pkg, ok := pl.convert(found, location); ok {
			pkgs = append(pkgs, pkg)
		}
	}
	a.result.PackageFiles[location] = pkgs
	return nil
}

// maxSkipReasonBytes bounds a skip reason: an extractor's error may quote the
// offending line of a hostile file whole (osv-scalibr's apk parser quotes up to
// 64 KiB of it).
const maxSkipReasonBytes = 512

// skip records why the file at p was not read whole; the first reason stays.
func (a *layerAnalysis) skip(p, reason string) {
	if _, ok := a.result.Skipped[p]; !ok {
		a.result.Skipped[p] = clipReason(reason)
	}
}

// clipReason cuts reason to at most maxSkipReasonBytes, on a UTF-8 boundary, marking
// the cut.
func clipReason(reason string) string {
	if len(reason) <= maxSkipReasonBytes {
		return reason
	}
	cut := maxSkipReasonBytes - len("…")
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut] + "…"
}

// readTracker remembers the first error reading the layer itself, which is the
// walk's to classify, as opposed to an extractor's complaint about the contents.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && t.err == nil {
		t.err = err
	}
	return n, err
}

// entryFileAPI is the filesystem.FileAPI of a tar entry.
type entryFileAPI struct {
	path string
	info fs.FileInfo
}

func (f entryFileAPI) Path() string               { return f.path }
func (f entryFileAPI) Stat() (fs.FileInfo, error) { return f.info, nil }

// copyHardLinkedApplications gives each hard link to an application file of this
// layer (a Go binary) that file's packages, or its reason for being skipped, at the
// link's path: the link is the same file, and stays when an upper layer deletes the
// first path. A link to any other file may point into a lower layer and is kept in
// LayerResult.HardLinks for Merge.
func (a *layerAnalysis) copyHardLinkedApplications() {
	for link, target := range a.hardLinks {
		if _, database := a.result.Links[link]; database {
			continue // followed as a package database link
		}
		pkgs, read := a.result.PackageFiles[target]
		if !read {
			a.result.HardLinks[link] = target
			continue
		}
		if reason, ok := a.result.Skipped[target]; ok && !a.wantsLink(target) {
			a.skip(link, reason)
		}
		if copies := applicationsAt(pkgs, link); len(copies) > 0 {
			a.result.PackageFiles[link] = copies
		}
	}
}

// applicationsAt returns the packages among pkgs that a hard link at path is, relocated
// to path: a Go binary's modules (the binary is the same file at either path). OS
// packages stay with their database, and npm and PyPI packages with their metadata
// file, the only path their package manager reads; a hard link at such a path is
// followed as a link instead (followLinks).
func applicationsAt(pkgs []Package, path string) []Package {
	var out []Package
	for _, pkg := range pkgs {
		if pkg.Type == purl.TypeGolang || pkg.Type == purl.TypeMaven || pkg.Type == purl.TypeCargo {
			// A package of an archive nested in the file keeps its place inside it.
			_, inner, nested := strings.Cut(pkg.Location, "!/")
			pkg.Location = path
			if nested {
				pkg.Location += "!/" + inner
			}
			out = append(out, pkg)
		}
	}
	return out
}
