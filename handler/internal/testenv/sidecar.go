package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Sidecar is the ground truth written next to a shared fixture image
// (<name>.json beside <name>.tar) when the image was built: digests and layers from
// the image builder, and a package inventory from dpkg-query on the merged root
// filesystem, read without any scanner. Only the fields tests compare are decoded.
type Sidecar struct {
	// ManifestDigest is the digest of the image manifest (for an index, of its
	// first platform's manifest).
	ManifestDigest string `json:"manifestDigest"`
	// IndexDigest is the digest of the OCI image index, empty for a single image.
	IndexDigest string `json:"indexDigest"`
	// Platforms are the platform strings, e.g. "linux/arm64/v8".
	Platforms []string `json:"platforms"`
	// Manifests has one entry per platform.
	Manifests []SidecarManifest `json:"manifests"`
	// DpkgInventory is keyed by platform; absent for images without dpkg.
	DpkgInventory map[string]DpkgInventory `json:"dpkgInventory"`
	// ApkInventory is keyed by platform; absent for images without apk.
	ApkInventory map[string]ApkInventory `json:"apkInventory"`
	// OSRelease is the image's os-release (non-Debian images only).
	OSRelease SidecarOSRelease `json:"osRelease"`
	// RPMInventory is keyed by platform; absent for images without rpm.
	RPMInventory map[string]RPMInventory `json:"rpmInventory"`
}

// SidecarOSRelease is the part of an image's os-release its sidecar records.
type SidecarOSRelease struct {
	ID         string `json:"ID"`
	VersionID  string `json:"VERSION_ID"`
	PrettyName string `json:"PRETTY_NAME"`
}

// ApkInventory is what lib/apk/db/installed lists for one platform, parsed without
// any scanner.
type ApkInventory struct {
	PackageCount int          `json:"packageCount"`
	Packages     []ApkPackage `json:"packages"`
}

// ApkPackage is one installed apk package: P:, V:, o: (the origin, defaulting to
// the package) and A:.
type ApkPackage struct {
	Package      string `json:"package"`
	Version      string `json:"version"`
	Origin       string `json:"origin"`
	Architecture string `json:"architecture"`
}

// SidecarManifest is one platform's image manifest.
type SidecarManifest struct {
	Platform       string         `json:"platform"`
	ManifestDigest string         `json:"manifestDigest"`
	Layers         []SidecarLayer `json:"layers"`
}

// SidecarLayer is one layer of a manifest, bottom first.
type SidecarLayer struct {
	// DiffID is the digest of the uncompressed layer tar.
	DiffID string `json:"diffID"`
	// Digest is the digest of the compressed blob.
	Digest string `json:"digest"`
}

// DpkgInventory is what dpkg-query reported for one platform's root filesystem.
type DpkgInventory struct {
	// Packages are the installed packages of the final filesystem.
	Packages []DpkgPackage `json:"packages"`
	// RemovedPackages were installed by some layer and purged by a later one.
	RemovedPackages []RemovedPackage `json:"removedPackages"`
}

// DpkgPackage is one installed binary package.
type DpkgPackage struct {
	Package       string `json:"package"`
	Version       string `json:"version"`
	Architecture  string `json:"architecture"`
	SourcePackage string `json:"sourcePackage"`
	SourceVersion string `json:"sourceVersion"`
	// IntroducedInLayer is the index of the layer that installed this version.
	IntroducedInLayer int `json:"introducedInLayer"`
	// IntroducedInLayerDiffID is that layer's diffID.
	IntroducedInLayerDiffID string `json:"introducedInLayerDiffID"`
}

// RemovedPackage is a package a later layer purged.
type RemovedPackage struct {
	Package string `json:"package"`
	Version string `json:"version"`
}

// ReadSidecar decodes the sidecar of a shared fixture image, e.g.
// ReadSidecar(t, "debian12-layered"). A missing or malformed sidecar fails the test.
func ReadSidecar(t testing.TB, image string) Sidecar {
	t.Helper()
	path := filepath.Join(Shared(t), "images", strings.TrimSuffix(image, ".tar")+".json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading sidecar of %s: %v", image, err)
	}
	var s Sidecar
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("decoding sidecar of %s: %v", image, err)
	}
	return s
}

// ManifestDigests maps each platform to its manifest digest.
func (s Sidecar) ManifestDigests() map[string]string {
	out := make(map[string]string, len(s.Manifests))
	for _, m := range s.Manifests {
		out[m.Platform] = m.ManifestDigest
	}
	return out
}

// PushedDigest is the digest a push of the fixture creates: the index digest for an
// index, else the manifest digest.
func (s Sidecar) PushedDigest() string {
	if s.IndexDigest != "" {
		return s.IndexDigest
	}
	return s.ManifestDigest
}

// Installed is the set of "package version" pairs installed on platform.
func (s Sidecar) Installed(platform string) map[string]bool {
	out := make(map[string]bool)
	for _, p := range s.DpkgInventory[platform].Packages {
		out[p.Package+" "+p.Version] = true
	}
	return out
}
