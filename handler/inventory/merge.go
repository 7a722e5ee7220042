package inventory

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// packageKey identifies an installed version of a package across layers.
type packageKey struct {
	Type, Name, Arch, Version string
}

func keyOf(p Package) packageKey {
	return packageKey{Type: p.Type, Name: p.Name, Arch: p.Arch, Version: p.Version}
}

// Merge applies layers bottom-up with OCI semantics (a later file replaces, a
// whiteout deletes a path and everything below it, an opaque directory hides lower
// contents) and returns the final packages, each attributed to the lowest layer from
// which its installed version stays present up to the top, plus the detected
// distribution and its advisory ecosystem ("" when unsupported).
func Merge(layers []*LayerResult) (*Inventory, error) {
	inv := &Inventory{Layers: make([]Layer, len(layers)), Packages: []Package{}}
	pkgFiles := map[string][]Package{}
	osFiles := map[string]OSReleaseFile{}
	// present[i] is the set of packages installed after applying layers 0..i.
	present := make([]map[packageKey]bool, len(layers))
	for i, l := range layers {
		if l == nil {
			return nil, fmt.Errorf("merging layers: layer %d has no result", i)
		}
		if inv.Analyzer == "" {
			inv.Analyzer = l.Analyzer
		} else if l.Analyzer != inv.Analyzer {
			return nil, fmt.Errorf("merging layers: layer %d was analyzed by %q, layer 0 by %q", i, l.Analyzer, inv.Analyzer)
		}
		inv.Layers[i] = Layer{Index: i, DiffID: l.DiffID}
		for _, dir := range l.OpaqueDirs {
			deleteBelow(pkgFiles, dir)
			deleteBelow(osFiles, dir)
		}
		for _, p := range l.Whiteouts {
			deleteTree(pkgFiles, p)
			deleteTree(osFiles, p)
		}
		for p, pkgs := range l.PackageFiles {
			pkgFiles[p] = pkgs
		}
		for p, f := range l.OSReleaseFiles {
			osFiles[p] = f
		}
		present[i] = map[packageKey]bool{}
		for _, pkgs := range pkgFiles {
			for _, pkg := range pkgs {
				present[i][keyOf(pkg)] = true
			}
		}
	}

	inv.Packages = finalPackages(pkgFiles)
	for n := range inv.Packages {
		introduced := introducedIn(present, keyOf(inv.Packages[n]))
		inv.Packages[n].LayerIndex = introduced
		inv.Packages[n].LayerDiffID = layers[introduced].DiffID
	}
	if release, ok := resolveOSRelease(osFiles); ok {
		inv.OS = &OS{OSRelease: release, Ecosystem: ecosystem(release)}
	}
	for n := range inv.Packages {
		if isOSPackage(inv.Packages[n]) && inv.OS != nil {
			inv.Packages[n].Ecosystem = inv.OS.Ecosystem
		}
	}
	return inv, nil
}

// isOSPackage reports whether p was read from the distribution's package database,
// whose advisories are the distribution's.
func isOSPackage(p Package) bool {
	switch p.Type {
	case "deb", "opkg":
		return true
	}
	return false
}

// finalPackages lists the packages of the surviving database files once each,
// sorted by Type, Name, Arch (then Version, Location for a stable order).
func finalPackages(pkgFiles map[string][]Package) []Package {
	paths := make([]string, 0, len(pkgFiles))
	for p := range pkgFiles {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	seen := map[packageKey]bool{}
	out := []Package{}
	for _, p := range paths {
		for _, pkg := range pkgFiles[p] {
			if k := keyOf(pkg); !seen[k] {
				seen[k] = true
				out = append(out, pkg)
			}
		}
	}
	slices.SortFunc(out, func(a, b Package) int {
		return cmp.Or(
			cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Arch, b.Arch),
			cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Location, b.Location),
		)
	})
	return out
}

// introducedIn returns the lowest layer index from which k is present in every
// layer up to the top.
func introducedIn(present []map[packageKey]bool, k packageKey) int {
	i := len(present) - 1
	for i > 0 && present[i-1][k] {
		i--
	}
	return i
}

// deleteTree removes p and everything below it.
func deleteTree[V any](files map[string]V, p string) {
	delete(files, p)
	deleteBelow(files, p)
}

// deleteBelow removes everything strictly below dir ("" is the root).
func deleteBelow[V any](files map[string]V, dir string) {
	prefix := dir + "/"
	for f := range files {
		if dir == "" || strings.HasPrefix(f, prefix) {
			delete(files, f)
		}
	}
}
