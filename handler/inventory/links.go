package inventory

import (
	"archive/tar"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/tidewatch/tidewatch/handler/image"
)

// linkTarget is the root-relative path a symlink or hard link entry names. Both are
// resolved inside the image: an absolute or "../"-climbing target cannot leave its
// root.
func linkTarget(e image.Entry) string {
	if e.Header.Typeflag == tar.TypeLink {
		return strings.TrimPrefix(path.Clean("/"+e.Header.Linkname), "/")
	}
	return resolveLink(e.Path, e.Header.Linkname)
}

// osReleaseLinkTarget is how an os-release link is recorded: a symlink's target as
// stored, a hard link's made absolute.
func osReleaseLinkTarget(e image.Entry) string {
	if e.Header.Typeflag == tar.TypeLink {
		return "/" + path.Clean(e.Header.Linkname)
	}
	return e.Header.Linkname
}

// maxLayerLinks bounds how many of a layer's links are remembered for resolving
// package-database links; a link past it is resolved as if absent (and reported).
const maxLayerLinks = 100_000

// recordLink remembers a link of the layer for resolving others through it.
func (a *layerAnalysis) recordLink(p, target string) {
	if len(a.symlinks) < maxLayerLinks {
		a.symlinks[p] = target
	}
}

// resolveInLayer follows p through the layer's links, both a link at p itself and
// links at its parent directories, at most maxLinkHops times; the result stays
// inside the image's root.
func (a *layerAnalysis) resolveInLayer(p string) string {
	for hop := 0; hop < maxLinkHops; hop++ {
		if target, ok := a.symlinks[p]; ok {
			p = target
			continue
		}
		resolved := false
		for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if target, ok := a.symlinks[dir]; ok {
				p = strings.TrimPrefix(path.Join("/", target, strings.TrimPrefix(p, dir+"/")), "/")
				resolved = true
				break
			}
		}
		if !resolved {
			return p
		}
	}
	return p
}

// linksWithinLayer resolves the layer's package-database links through the layer's
// links and returns the regular files still to read, each with the links that lead
// to it. A link whose target is a database this layer already read needs nothing
// more: Merge finds the target's packages at the target's path. A link resolved
// this way is recorded by its final target, for Merge to check against lower layers.
func (a *layerAnalysis) linksWithinLayer() map[string][]string {
	targets := map[string][]string{}
	for link := range a.result.Links {
		target := a.resolveInLayer(link)
		a.result.Links[link] = target
		if _, ok := a.result.PackageFiles[target]; ok {
			continue
		}
		if _, ok := a.symlinks[target]; ok {
			continue // a loop, or more hops than allowed: Merge reports it
		}
		targets[target] = append(targets[target], link)
	}
	return targets
}

// visitTarget is the second walk's visitor: it reads each regular file some
// package-database links resolve to, as the database at the first such link's path
// (so an extractor applies the rules of the path it was asked about); further links
// to the same file then point at that one.
func (a *layerAnalysis) visitTarget(e image.Entry) error {
	links, ok := a.targets[e.Path]
	if !ok || (e.Header.Typeflag != tar.TypeReg && e.Header.Typeflag != tar.TypeGNUSparse) {
		return nil
	}
	delete(a.targets, e.Path)
	first := links[0]
	info := e.Header.FileInfo()
	var wanting []plugin
	for _, pl := range a.wanting(first, info) {
		if pl.followLinks {
			wanting = append(wanting, pl)
		}
	}
	if len(wanting) == 0 {
		return nil
	}
	delete(a.result.Links, first)
	for _, other := range links[1:] {
		a.result.Links[other] = first
	}
	return a.extractEntry(e.Path, first, info, e.Reader, wanting)
}

// regularFileInfo describes an empty regular file, for asking an extractor whether
// it wants a path that is a link.
type regularFileInfo struct{ name string }

func (i regularFileInfo) Name() string       { return i.name }
func (i regularFileInfo) Size() int64        { return 0 }
func (i regularFileInfo) Mode() fs.FileMode  { return 0o644 }
func (i regularFileInfo) ModTime() time.Time { return time.Time{} }
func (i regularFileInfo) IsDir() bool        { return false }
func (i regularFileInfo) Sys() any           { return nil }
