package inventory

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// packageKey identifies an installed version of a package across layers. OS packages
// are one per (name, arch, version) whichever database file lists them; application
// packages are per file too, so the same module in two binaries stays two findings.
type packageKey struct {
	Type, Name, Arch, Version, Location string
}

func keyOf(p Package) packageKey {
	k := packageKey{Type: p.Type, Name: p.Name, Arch: p.Arch, Version: p.Version}
	if !isOSPackage(p) {
		k.Location = p.Location
	}
	return k
}

// Merge applies layers bottom-up with OCI semantics; see merger.
func Merge(layers []*LayerResult) (*Inventory, error) {
	m := newMerger()
	for _, l := range layers {
		if err := m.add(l); err != nil {
			return nil, err
		}
	}
	return m.inventory(), nil
}

// merger applies layer results bottom-up, one at a time, with OCI semantics (a later
// file replaces, a whiteout deletes a path and everything below it, an opaque
// directory hides lower contents). Its memory is the merged view of package files
// plus, per live package, the layer since which it has been continuously present: a
// caller that drops each LayerResult after add holds O(packages of the image), not
// O(layers × packages).
type merger struct {
	inv     *Inventory
	files   map[string][]Package
	skipped map[string]SkippedFile
	links   map[string]linkAt
	osFiles map[string]OSReleaseFile
	// manifests holds the content sets of each content manifest in the merged view.
	manifests map[string][]string
	// since maps each package present after the last add to the lowest layer index
	// from which it has been present in every layer since.
	since map[packageKey]presence
}

// linkAt is a link to a package database that its layer could not follow.
type linkAt struct {
	target string
	layer  int
}

// presence records from which layer a package has been present (since) and the last
// layer it was seen in (seen).
type presence struct{ since, seen int }

// newMerger returns a merger with no layers.
func newMerger() *merger {
	return &merger{
		inv:       &Inventory{Layers: []Layer{}, Packages: []Package{}},
		files:     map[string][]Package{},
		skipped:   map[string]SkippedFile{},
		links:     map[string]linkAt{},
		osFiles:   map[string]OSReleaseFile{},
		manifests: map[string][]string{},
		since:     map[packageKey]presence{},
	}
}

// add applies the next layer's result on top of the ones added before.
func (m *merger) add(l *LayerResult) error {
	i := len(m.inv.Layers)
	if l == nil {
		return fmt.Errorf("merging layers: layer %d has no result", i)
	}
	if i == 0 {
		m.inv.Analyzer = l.Analyzer
	} else if l.Analyzer != m.inv.Analyzer {
		return fmt.Errorf("merging layers: layer %d was analyzed by %q, layer 0 by %q", i, l.Analyzer, m.inv.Analyzer)
	}
	m.inv.Layers = append(m.inv.Layers, Layer{Index: i, DiffID: l.DiffID})
	for _, dir := range l.OpaqueDirs {
		m.deleteBelow(dir)
	}
	for _, p := range l.Whiteouts {
		m.delete(p)
		m.deleteBelow(p)
	}
	for p, pkgs := range l.PackageFiles {
		m.delete(p)
		m.files[p] = pkgs
	}
	for p, target := range l.Links {
		m.delete(p)
		m.links[p] = linkAt{target: target, layer: i}
	}
	for p, target := range l.HardLinks {
		m.hardLink(p, target, i)
	}
	for p, reason := range l.Skipped {
		delete(m.manifests, p) // an unreadable manifest replaces a lower one
		m.skipped[p] = SkippedFile{Path: p, LayerIndex: i, Reason: reason}
	}
	maps.Copy(m.osFiles, l.OSReleaseFiles)
	for p, sets := range l.ContentManifests {
		m.delete(p)
		m.manifests[p] = sets
	}
	m.updatePresence(i)
	return nil
}

// updatePresence advances since to layer i: packages seen in layer i-1 keep their
// layer, new ones start at i, and those no longer present are forgotten.
func (m *merger) updatePresence(i int) {
	for _, pkgs := range m.files {
		for _, pkg := range pkgs {
			k := keyOf(pkg)
			p, ok := m.since[k]
			switch {
			case ok && p.seen == i:
			case ok && p.seen == i-1:
				m.since[k] = presence{since: p.since, seen: i}
			default:
				m.since[k] = presence{since: i, seen: i}
			}
		}
	}
	for k, p := range m.since {
		if p.seen != i {
			delete(m.since, k)
		}
	}
}

// hardLink applies layer i's hard link at p to target: the file at p is whatever the
// merged view holds at target, so a lower layer's binary is now also at p (an
// application file not read whole stays so at p too).
func (m *merger) hardLink(p, target string, i int) {
	m.delete(p)
	pkgs, ok := m.files[target]
	if !ok {
		return
	}
	copies := applicationsAt(pkgs, p)
	if len(copies) == len(pkgs) {
		if s, ok := m.skipped[target]; ok {
			m.skipped[p] = SkippedFile{Path: p, LayerIndex: i, Reason: s.Reason}
		}
	}
	if len(copies) > 0 {
		m.files[p] = copies
	}
}

// delete removes whatever the merged view holds at path p.
func (m *merger) delete(p string) {
	delete(m.files, p)
	delete(m.skipped, p)
	delete(m.links, p)
	delete(m.osFiles, p)
	delete(m.manifests, p)
}

// deleteBelow removes everything strictly below dir ("" is the root).
func (m *merger) deleteBelow(dir string) {
	deleteBelow(m.files, dir)
	deleteBelow(m.skipped, dir)
	deleteBelow(m.links, dir)
	deleteBelow(m.osFiles, dir)
	deleteBelow(m.manifests, dir)
}

// inventory returns the merged inventory of the layers added so far: the final
// packages, each attributed to the lowest layer from which its installed version
// stays present up to the top; the detected distribution, whose advisory ecosystem
// and PURL namespace OS packages take; and every wanted file that was not fully read.
func (m *merger) inventory() *Inventory {
	inv := *m.inv
	inv.Layers = slices.Clone(m.inv.Layers)
	inv.Packages = withoutShadowedLockfiles(finalPackages(m.files), m.files)
	if release, ok := resolveOSRelease(m.osFiles); ok {
		inv.OS = &OS{OSRelease: release, Ecosystem: ecosystem(release)}
		addStreams(inv.OS, m.manifests)
	}
	for n := range inv.Packages {
		pkg := &inv.Packages[n]
		introduced := m.since[keyOf(*pkg)].since
		pkg.LayerIndex, pkg.LayerDiffID = introduced, inv.Layers[introduced].DiffID
		if isOSPackage(*pkg) {
			pkg.Ecosystem, pkg.PURL = osPackageEcosystem(*pkg, inv.OS), osPackagePURL(*pkg, inv.OS)
			if pkg.Type == "rpm" {
				pkg.PURL = rpmPURL(*pkg, inv.OS)
			}
		}
	}
	inv.Skipped = m.skippedFiles()
	return &inv
}

// skippedFiles lists the files not fully read, plus links to package databases that
// do not resolve to one the analysis read, sorted by path.
func (m *merger) skippedFiles() []SkippedFile {
	out := slices.Collect(maps.Values(m.skipped))
	for p, l := range m.links {
		if reason, ok := m.unresolvedLink(p, l.target); ok {
			out = append(out, SkippedFile{Path: p, LayerIndex: l.layer, Reason: reason})
		}
	}
	slices.SortFunc(out, func(a, b SkippedFile) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

// unresolvedLink follows a package-database link through the merged view (at most
// maxLinkHops links, never outside the image's root) and explains why it does not
// end at a database the layers' analysis read, or reports false when it does.
func (m *merger) unresolvedLink(p, target string) (string, bool) {
	end, ok := m.linkEnd(target)
	if !ok {
		return fmt.Sprintf("more than %d links to follow from /%s", maxLinkHops, p), true
	}
	if _, ok := m.files[end]; ok {
		return "", false
	}
	if _, ok := m.skipped[end]; ok {
		return "", false // reported as skipped itself
	}
	return fmt.Sprintf("links to /%s, which no layer holds as a regular file", end), true
}

// linkEnd follows target through the merged view's package-database links and
// returns the first path that is not one of them; false after maxLinkHops.
func (m *merger) linkEnd(target string) (string, bool) {
	for hop := 0; hop < maxLinkHops; hop++ {
		next, ok := m.links[target]
		if !ok {
			return target, true
		}
		target = next.target
	}
	return "", false
}

// crossLayerLink is a package-database link whose target is a file that no layer
// result holds: a path no extractor wants, in a layer other than the link's.
type crossLayerLink struct {
	path, target string
	layer        int
}

// crossLayerLinks lists the links Scan should follow into other layers.
func (m *merger) crossLayerLinks() []crossLayerLink {
	var out []crossLayerLink
	for _, p := range slices.Sorted(maps.Keys(m.links)) {
		end, ok := m.linkEnd(m.links[p].target)
		if !ok {
			continue
		}
		_, isFile := m.files[end]
		_, isSkipped := m.skipped[end]
		if !isFile && !isSkipped {
			out = append(out, crossLayerLink{path: p, target: end, layer: m.links[p].layer})
		}
	}
	return out
}

// resolveLink records what following a cross-layer link found: the packages of its
// target, read as the database at the link's path, present since layer, or why it
// could not be read.
func (m *merger) resolveLink(l crossLayerLink, layer int, pkgs []Package, skipped string) {
	delete(m.links, l.path)
	m.files[l.path] = pkgs
	top := len(m.inv.Layers) - 1
	for _, pkg := range pkgs {
		if _, ok := m.since[keyOf(pkg)]; !ok {
			m.since[keyOf(pkg)] = presence{since: layer, seen: top}
		}
	}
	if skipped != "" {
		m.skipped[l.path] = SkippedFile{Path: l.path, LayerIndex: layer, Reason: skipped}
	}
}

// isOSPackage reports whether p was read from the distribution's package database,
// whose advisories are the distribution's.
func isOSPackage(p Package) bool {
	switch p.Type {
	case "deb", "opkg", "apk", "rpm":
		return true
	}
	return false
}

// osPackageEcosystem is the advisory ecosystem of an OS package: the distribution's,
// when the package is of the distribution's package manager (an apk database in a
// Debian image, or a dpkg one in an Alpine image, is matched against nothing).
func osPackageEcosystem(p Package, os *OS) string {
	if os == nil || (p.Type == "apk") != apkDistributions[os.ID] {
		return ""
	}
	return os.Ecosystem
}

// finalPackages lists the packages of the surviving database files once each,
// sorted by Type, Name, Arch (then Version, Location for a stable order).
func finalPackages(pkgFiles map[string][]Package) []Package {
	paths := slices.Sorted(maps.Keys(pkgFiles))
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

// deleteBelow removes everything strictly below dir ("" is the root).
func deleteBelow[V any](files map[string]V, dir string) {
	prefix := dir + "/"
	for f := range files {
		if dir == "" || strings.HasPrefix(f, prefix) {
			delete(files, f)
		}
	}
}
