package inventory

// Package is one installed package, as read from a package database file in one layer
// or, after merging, as present in the final image.
type Package struct {
	// Name is the binary package name (dpkg "Package").
	Name string `json:"name"`
	// Version is the installed binary version, epoch included ("1:2.38.1-5+deb12u3").
	Version string `json:"version"`
	// SourceName is the source package; equal to Name when the database names none.
	SourceName string `json:"sourceName"`
	// SourceVersion is the source version; equal to Version when the database names none.
	SourceVersion string `json:"sourceVersion"`
	// Arch is the package architecture ("amd64", "all"), empty when unknown.
	Arch string `json:"arch,omitempty"`
	// Type is the package manager: "deb" (later "apk", "rpm", "golang", "npm").
	Type string `json:"type"`
	// Location is the path (no leading slash) of the database file it was read from.
	Location string `json:"location"`
	// LayerIndex is the 0-based index of the layer that introduced the installed
	// version; set only in a merged Inventory.
	LayerIndex int `json:"layerIndex"`
	// LayerDiffID is the diffID of that layer; set only in a merged Inventory.
	LayerDiffID string `json:"layerDiffID,omitempty"`
}

// OSRelease is the part of /etc/os-release that chooses an advisory ecosystem.
type OSRelease struct {
	ID              string `json:"id"`
	VersionID       string `json:"versionId"`
	VersionCodename string `json:"versionCodename,omitempty"`
	PrettyName      string `json:"prettyName,omitempty"`
}

// Layer names one layer of an image, bottom first.
type Layer struct {
	Index  int    `json:"index"`
	DiffID string `json:"diffID"`
}

// Inventory is the merged result for one platform image: what is installed in the
// final filesystem and which layer introduced each package.
type Inventory struct {
	// OS is the detected distribution; zero when no os-release file exists.
	OS OSRelease `json:"os"`
	// Ecosystem is the OSV ecosystem for OS packages ("Debian:12"), empty when the
	// distribution is unknown or unsupported.
	Ecosystem string `json:"ecosystem"`
	// Layers lists the image's layers bottom first.
	Layers []Layer `json:"layers"`
	// Packages are sorted by Type, Name, Arch.
	Packages []Package `json:"packages"`
	// Analyzer is the analyzer version that produced the per-layer results.
	Analyzer string `json:"analyzer"`
}
