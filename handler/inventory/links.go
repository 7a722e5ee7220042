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
// and what is found depends on several layers, so it is not cached: each scan walks
// the layers again, top down, until the target is found. Each walk reads the whole
// layer, so the blob's digest is checked before its contents count.
func followCrossLayerLinks(ctx context.Context, layers []v1.Layer, m *Merger, ps []plugin, cfg scanConfig) error {
	for _, link := range m.crossLayerLinks() {
		found := false
		for j := len(layers) - 1; j >= 0 && !found; j-- {
			var r targetSearch
			err := cfg.retry(ctx, func(ctx context.Context) error {
				var err error
				r, err = searchLayer(ctx, layers[j], link, ps)
				return err
			})
			if err != nil {
				return fmt.Errorf("following /%s to /%s in layer %d: %w", link.path, link.target, j, err)
			}
			switch {
			case r.pkgs != nil:
				m.resolveLink(link, max(j, link.layer), r.pkgs, r.skipped)
				found = true
			case r.deleted:
				found = true
			}
		}
		// Absent from every layer, or deleted: the link stays, and Inventory
		// reports it skipped.
	}
	return nil
}

// targetSearch is what one layer says about a cross-layer link's target.
type targetSearch struct {
	// pkgs is non-nil when the layer holds the target as a regular file.
	pkgs    []Package
	skipped string
	// deleted says the layer whites out the target or a directory above it.
	deleted bool
}

// searchLayer walks one layer for a link's target and, if it is there, extracts it
// as the database at the link's path.
func searchLayer(ctx context.Context, layer v1.Layer, link crossLayerLink, ps []plugin) (targetSearch, error) {
	a := &layerAnalysis{ctx: ctx, plugins: ps, symlinks: map[string]string{}, result: &LayerResult{
		PackageFiles: map[string][]Package{}, Skipped: map[string]string{}, Links: map[string]string{},
	}}
	var r targetSearch
	within := func(dir string) bool {
		return dir == "" || link.target == dir || strings.HasPrefix(link.target, dir+"/")
	}
	_, err := image.WalkLayer(ctx, layer, func(e image.Entry) error {
		if deleted, ok := e.Whiteout(); ok && within(deleted) {
			r.deleted = true
		}
		if dir, ok := e.OpaqueDir(); ok && within(dir) && dir != link.target {
			r.deleted = true
		}
		if e.Path != link.target || (e.Header.Typeflag != tar.TypeReg && e.Header.Typeflag != tar.TypeGNUSparse) {
			return nil
		}
		info := e.Header.FileInfo()
		var wanting []plugin
		for _, pl := range a.wanting(link.path, info) {
			if pl.followLinks {
				wanting = append(wanting, pl)
			}
		}
		if err := a.extractEntry(e.Path, link.path, info, e.Reader, wanting); err != nil {
			return err
		}
		r.pkgs = a.result.PackageFiles[link.path]
		if r.pkgs == nil {
			r.pkgs = []Package{}
		}
		r.skipped = a.result.Skipped[link.path]
		return nil
	}, image.WithMaxFileBytes(image.DefaultMaxBytes))
	if err != nil {
		return targetSearch{}, err
	}
	if r.pkgs != nil {
		r.deleted = false // the layer's own file is above its whiteouts
	}
	return r, nil
}
