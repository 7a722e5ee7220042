package inventory

// Package is one installed package, as read from a package database file in one layer
// or, after merging, as present in the final image.
type Package struct {
	// Name is the binary package name (dpkg "Package", apk "P:").
	Name string `json:"name"`
	// Version is the installed binary version, epoch included ("1:2.38.1-5+deb12u3").
	Version string `json:"version"`
	// SourceName is the source package (dpkg "Source", apk origin "o:"); equal to
	// Name when the database names none.
	SourceName string `json:"sourceName"`
	// SourceVersion is the source version; equal to Version when the database names none.
	SourceVersion string `json:"sourceVersion"`
	// Arch is the package architecture ("amd64", "all"), empty when unknown.
	Arch string `json:"arch,omitempty"`
	// Type is the package type, as in package URLs: "deb", "opkg", "apk", "golang".
	Type string `json:"type"`
	// Ecosystem is the OSV ecosystem whose advisories apply to this package
	// ("Debian:12", "Go", "npm"). It is "" for OS packages of a distribution that
	// has no advisory source (or of an image without os-release): such packages are
	// inventoried but cannot be matched, and the scan says so.
	Ecosystem string `json:"ecosystem"`
	// PURL is the package URL ("pkg:deb/debian/openssl@3.0.11-1?arch=amd64").
	PURL string `json:"purl,omitempty"`
	// Location is the path (no leading slash) of the file it was read from: a
	// package database, a binary, a lockfile.
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

// OS is the distribution an image is built on and where its advisories come from.
type OS struct {
	OSRelease
	// Ecosystem is the OSV ecosystem of its OS packages ("Debian:12",
	// "Ubuntu:22.04:LTS"), "" when Tidewatch knows no advisory source for it. For
	// RHEL/UBI and SLES it is the family, "Red Hat" or "SUSE": their records name
	// product streams, and the packages are matched against those of Streams or
	// ProductRelease.
	Ecosystem string `json:"ecosystem"`
	// Streams are, for RHEL/UBI, the Red Hat streams (OSV ecosystems
	// "Red Hat:enterprise_linux:9::baseos") its packages are matched against, sorted;
	// empty when none is known for its release.
	Streams []string `json:"streams,omitempty"`
	// StreamsFrom says where Streams come from: the content manifests' paths, or
	// DefaultStreams.
	StreamsFrom string `json:"streamsFrom,omitempty"`
	// UnmappedContentSets are the content sets its manifests name that map to no
	// stream Tidewatch knows: packages installed from them are not matched.
	UnmappedContentSets []string `json:"unmappedContentSets,omitempty"`
	// ProductRelease is, for SLES and SLE Micro, the release SUSE's product
	// ecosystems of it end in ("15 SP5", "Micro 5.5").
	ProductRelease string `json:"productRelease,omitempty"`
}

// SkippedFile is a file an extractor wanted but could not read whole (too large,
// sparse, a link leading outside the image): the inventory is incomplete there, and
// a scan must say so instead of reporting the packages it would have listed as absent.
type SkippedFile struct {
	// Path is the file's path in the image, no leading slash.
	Path string `json:"path"`
	// LayerIndex is the layer the skipped copy of the file is in.
	LayerIndex int `json:"layerIndex"`
	// Reason says why it was skipped ("larger than the 100 MiB cap").
	Reason string `json:"reason"`
}

// Inventory is the merged result for one platform image: what is installed in the
// final filesystem and which layer introduced each package.
type Inventory struct {
	// OS is the detected distribution; nil when the image has no os-release file.
	// Packages of any ecosystem are inventoried either way.
	OS *OS `json:"os,omitempty"`
	// Skipped lists files that were wanted but not inventoried; non-empty means the
	// inventory is incomplete.
	Skipped []SkippedFile `json:"skipped,omitempty"`
	// Layers lists the image's layers bottom first.
	Layers []Layer `json:"layers"`
	// Packages are sorted by Type, Name, Arch.
	Packages []Package `json:"packages"`
	// Analyzer is the analyzer version that produced the per-layer results.
	Analyzer string `json:"analyzer"`
}
