package inventory

import (
	"archive/tar"
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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

// followCrossLayerLinks reads, for each package-database link whose target lies in
// another layer, that target as the final image has it: the topmost layer holding
// the path as a regular file, unless a layer above deletes it. Such images are rare
// and what is found depends on several layers, so it is not cached. All targets are
// looked for in one pass over the layers, top down, stopping when none is left: at
// most one more read of the image however many links there are. Each walk reads
// its whole layer, so the blob's digest is checked before its contents count.
func followCrossLayerLinks(ctx context.Context, layers []v1.Layer, m *merger, ps []plugin, cfg scanConfig) error {
	pending := map[string][]crossLayerLink{}
	for _, link := range m.crossLayerLinks() {
		pending[link.target] = append(pending[link.target], link)
	}
	for j := len(layers) - 1; j >= 0 && len(pending) > 0; j-- {
		var found map[string]targetFile
		var deleted []string
		err := cfg.retry(ctx, func(ctx context.Context) error {
			var err error
			found, deleted, err = searchLayer(ctx, layers[j], pending, ps)
			return err
		})
		if err != nil {
			return fmt.Errorf("following package-database links in layer %d: %w", j, err)
		}
		for target, f := range found {
			for _, link := range pending[target] {
				m.resolveLink(link, max(j, link.layer), relocated(f.pkgs, link.path), f.skipped)
			}
			delete(pending, target)
		}
		// A deleted target stays a link, which Inventory reports skipped.
		for _, target := range deleted {
			delete(pending, target)
		}
	}
	return nil
}

// relocated copies pkgs with their Location set to location.
func relocated(pkgs []Package, location string) []Package {
	out := make([]Package, len(pkgs))
	for i, p := range pkgs {
		p.Location = location
		out[i] = p
	}
	return out
}

// targetFile is what a link's target held.
type targetFile struct {
	pkgs    []Package
	skipped string
}

// searchLayer walks one layer for the pending link targets and extracts each one
// it holds as a regular file, as the database at its first link's path. It also
// returns the targets the layer deletes (a whiteout of the target or of a
// directory above it, an opaque directory above it) without holding them itself.
func searchLayer(ctx context.Context, layer v1.Layer, pending map[string][]crossLayerLink, ps []plugin) (map[string]targetFile, []string, error) {
	a := &layerAnalysis{ctx: ctx, plugins: ps, symlinks: map[string]string{}, result: &LayerResult{
		PackageFiles: map[string][]Package{}, Skipped: map[string]string{}, Links: map[string]string{},
	}}
	found := map[string]targetFile{}
	var deletions []string
	_, err := image.WalkLayer(ctx, layer, func(e image.Entry) error {
		if deleted, ok := e.Whiteout(); ok {
			deletions = append(deletions, deleted)
			return nil
		}
		if dir, ok := e.OpaqueDir(); ok {
			deletions = append(deletions, dir+"/")
			return nil
		}
		links, ok := pending[e.Path]
		if !ok || (e.Header.Typeflag != tar.TypeReg && e.Header.Typeflag != tar.TypeGNUSparse) {
			return nil
		}
		location := links[0].path
		info := e.Header.FileInfo()
		var wanting []plugin
		for _, pl := range a.wanting(location, info) {
			if pl.followLinks {
				wanting = append(wanting, pl)
			}
		}
		if err := a.extractEntry(e.Path, location, info, e.Reader, wanting); err != nil {
			return err
		}
		f := targetFile{pkgs: a.result.PackageFiles[location], skipped: a.result.Skipped[location]}
		if f.pkgs == nil {
			f.pkgs = []Package{}
		}
		found[e.Path] = f
		return nil
	}, image.WithMaxFileBytes(image.DefaultMaxBytes))
	if err != nil {
		return nil, nil, err
	}
	var deleted []string
	for target := range pending {
		if _, ok := found[target]; ok {
			continue // the layer's own file is above its whiteouts
		}
		for _, d := range deletions {
			if target == d || strings.HasPrefix(target, strings.TrimSuffix(d, "/")+"/") || d == "/" {
				deleted = append(deleted, target)
				break
			}
		}
	}
	return found, deleted, nil
}
