package inventory

// LayerResult is what one layer contributes, independent of the layers around it.
// It is cached by (DiffID, Analyzer) and serialised as JSON.
type LayerResult struct {
	// DiffID is the digest of the uncompressed layer tar.
	DiffID string `json:"diffID"`
	// Analyzer is the analyzer version that produced this result (see Analyzer).
	Analyzer string `json:"analyzer"`
	// PackageFiles maps each file of this layer an extractor read (path without
	// leading slash: a package database such as "var/lib/dpkg/status", a Go binary)
	// to the packages it lists, possibly none: the file's presence still replaces
	// lower copies. A database reached through a link of this layer is listed under
	// the link's path.
	PackageFiles map[string][]Package `json:"packageFiles,omitempty"`
	// Skipped maps each wanted file of this layer that was not read whole (too large,
	// unparseable, an unreadable kind of entry) to the reason; any packages read
	// before the problem are still in PackageFiles.
	Skipped map[string]string `json:"skipped,omitempty"`
	// Links maps each symlink or hard link at a package-database path whose target
	// this layer does not hold as a regular file to that target (root-relative, no
	// leading slash, resolved through this layer's links); Merge resolves it against
	// the other layers, and Scan reads a target no layer result holds.
	Links map[string]string `json:"links,omitempty"`
	// HardLinks maps each hard link of this layer whose target is not an application
	// file this layer read to that target (root-relative), for Merge to give the link
	// the packages of a binary a lower layer holds there: the link is that binary, and
	// stays when an upper layer deletes the first path.
	HardLinks map[string]string `json:"hardLinks,omitempty"`
	// OSReleaseFiles maps each os-release file or symlink in this layer to its content.
	OSReleaseFiles map[string]OSReleaseFile `json:"osReleaseFiles,omitempty"`
	// ContentManifests maps each Red Hat content manifest of this layer
	// (root/buildinfo/content_manifests/*.json) to the content sets it names; one
	// that cannot be read is in Skipped instead.
	ContentManifests map[string][]string `json:"contentManifests,omitempty"`
	// Whiteouts are the paths this layer deletes from lower layers.
	Whiteouts []string `json:"whiteouts,omitempty"`
	// OpaqueDirs are directories whose lower-layer contents this layer hides ("" is
	// the root).
	OpaqueDirs []string `json:"opaqueDirs,omitempty"`
	// Digests are the compressed layer digests whose verified walk produced exactly
	// this result. A cached result is trusted only for a layer whose Digest is among
	// them, so a layer that merely claims this DiffID cannot borrow it.
	Digests []string `json:"digests,omitempty"`
	// Files is the number of tar entries in the layer.
	Files int `json:"files"`
	// Bytes is the uncompressed size of the layer.
	Bytes int64 `json:"bytes"`
}

// OSReleaseFile is an os-release file found in a layer: either a symlink (or hard
// link) or a regular file with its parsed content.
type OSReleaseFile struct {
	// LinkTarget is the link target as stored ("../usr/lib/os-release"); hard link
	// targets are made absolute. Empty for a regular file.
	LinkTarget string `json:"linkTarget,omitempty"`
	// Release is the parsed content of a regular file.
	Release *OSRelease `json:"release,omitempty"`
}
