package inventory

import (
	"path"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/purl"
	"github.com/ossf/osv-schema/bindings/go/osvconstants"
)

// Bounds of the npm files read; a file past them is listed as skipped. Both scalibr
// extractors read their file whole into memory. The lockfile one also looks up every
// entry's line number with a scan from the start of the file, so its time is about
// entries × size: measured here, 3,400 entries in 1 MiB take 3.4 s, 13,300 in 4 MiB
// 54 s, and 50,000 in 15 MiB did not finish in 10 minutes. Bounding the JSON objects
// (an upper bound on the entries) and the bytes keeps one lockfile to a few seconds;
// an installed node_modules tree, which is what images usually hold and is read one
// small package.json at a time, has no such bound.
const (
	maxPackageJSONBytes = 8 << 20
	maxLockfileBytes    = 2 << 20
	maxLockfileObjects  = 5000
)

// isInstalledPackageJSON reports whether p is the manifest of an installed npm
// package: node_modules/<name>/package.json or node_modules/@scope/<name>/package.json,
// at any depth of nested node_modules. A project's own package.json and the
// package.json files a package carries in its subdirectories (test fixtures,
// "type": "module" markers) are not installed packages.
func isInstalledPackageJSON(p string) bool {
	if path.Base(p) != "package.json" {
		return false
	}
	dir := path.Dir(p)
	parent := path.Dir(dir)
	if strings.HasPrefix(path.Base(parent), "@") && path.Base(parent) != "@" {
		parent = path.Dir(parent)
	}
	return path.Base(parent) == "node_modules" && !strings.HasPrefix(path.Base(dir), ".")
}

// isLockfile reports whether p is a project lockfile osv-scalibr's package-lock
// extractor reads (package-lock.json or npm-shrinkwrap.json, not inside
// node_modules, where npm's hidden node_modules/.package-lock.json also lives).
func isLockfile(p string) bool {
	base := path.Base(p)
	return (base == "package-lock.json" || base == "npm-shrinkwrap.json") &&
		!strings.Contains("/"+path.Dir(p)+"/", "/node_modules/")
}

// npmPackage maps a package from osv-scalibr's package.json or package-lock.json
// extractor into OSV's npm ecosystem. A lockfile entry without a registry version
// (a "file:" link, a git commit) has nothing to match and is left out.
func npmPackage(p *extractor.Package, location string) (Package, bool) {
	if p.PURLType != purl.TypeNPM || p.Name == "" || p.Version == "" {
		return Package{}, false
	}
	pkg := Package{
		Name: p.Name, Version: p.Version, SourceName: p.Name, SourceVersion: p.Version,
		Type: purl.TypeNPM, Ecosystem: string(osvconstants.EcosystemNPM), Location: location,
	}
	if u := (&extractor.Package{Name: p.Name, Version: p.Version, PURLType: purl.TypeNPM}).PURL(); u != nil {
		pkg.PURL = u.String()
	}
	return pkg, true
}

// isLockfilePackage reports whether pkg was read from an npm lockfile rather than
// from an installed package's manifest.
func isLockfilePackage(pkg Package) bool {
	return pkg.Type == purl.TypeNPM && isLockfile(pkg.Location)
}

// withoutShadowedLockfiles drops the packages of a lockfile whose project has an
// installed tree (a package.json under <project>/node_modules in the final view):
// what is installed is the truth, and counting the lockfile too would report every
// package twice.
func withoutShadowedLockfiles(pkgs []Package, files map[string][]Package) []Package {
	installed := map[string]bool{}
	for p := range files {
		if isInstalledPackageJSON(p) {
			// The project of node_modules/a/node_modules/b is the one of the outermost
			// node_modules: "/" + p starts with project + "/node_modules/".
			project, _, _ := strings.Cut("/"+p, "/node_modules/")
			installed[project] = true
		}
	}
	if len(installed) == 0 {
		return pkgs
	}
	out := pkgs[:0]
	for _, pkg := range pkgs {
		if isLockfilePackage(pkg) && installed[lockfileProject(pkg.Location)] {
			continue
		}
		out = append(out, pkg)
	}
	return out
}

// lockfileProject is the project directory of a lockfile as withoutShadowedLockfiles
// names projects: "" for the root, "/app" for app/package-lock.json.
func lockfileProject(location string) string {
	if dir := path.Dir(location); dir != "." {
		return "/" + dir
	}
	return ""
}
