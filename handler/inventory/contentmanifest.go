package inventory

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
)

// maxContentManifestBytes caps a content manifest. Red Hat's are a few hundred
// bytes (image_contents is usually empty); one listing a build's every source
// package stays far below this.
const maxContentManifestBytes = 1 << 20

// A layer's content manifests are kept in its cached result and in the merge, so
// what they can hold is bounded: a real image has one manifest per layer Red Hat
// built, naming a handful of repositories.
const (
	maxContentManifestsPerLayer = 32
	maxContentSets              = 64
	maxContentSetLen            = 128
)

// contentManifestDirs hold Red Hat's image content manifests: one JSON file per
// layer Red Hat built, naming the repositories ("content sets") its rpms came from.
// OSBS-built images have them in root/buildinfo/content_manifests (see
// RedHatProductSecurity's security-data-guidelines); Konflux-built ones write the
// same schema to usr/share/buildinfo/content-sets.json.
var contentManifestDirs = []string{"root/buildinfo/content_manifests"}

// konfluxContentSets is the one file Konflux builds write.
const konfluxContentSets = "usr/share/buildinfo/content-sets.json"

// isContentManifest reports whether p (no leading slash) is a content manifest.
func isContentManifest(p string) bool {
	if p == konfluxContentSets {
		return true
	}
	for _, dir := range contentManifestDirs {
		if path.Dir(p) == dir && strings.HasSuffix(p, ".json") {
			return true
		}
	}
	return false
}

// contentManifest is the part of the content manifest schema
// (atomic_reactor/schemas/content_manifest.json) that says where packages came from.
type contentManifest struct {
	ContentSets *[]string `json:"content_sets"`
}

// readContentManifest reads a content manifest's content sets. The error is the
// reason the file is skipped: larger than the cap, not JSON, or without a
// content_sets list.
func readContentManifest(r io.Reader) ([]string, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxContentManifestBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxContentManifestBytes {
		return nil, errSkip(fmt.Sprintf("content manifest larger than the %d KiB cap", maxContentManifestBytes>>10))
	}
	var m contentManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errSkip("content manifest is not valid JSON: " + err.Error())
	}
	if m.ContentSets == nil {
		return nil, errSkip("content manifest has no content_sets list")
	}
	if len(*m.ContentSets) > maxContentSets {
		return nil, errSkip(fmt.Sprintf("content manifest names more than %d content sets", maxContentSets))
	}
	sets := []string{}
	for _, s := range *m.ContentSets {
		if len(s) > maxContentSetLen {
			return nil, errSkip(fmt.Sprintf("content manifest names a content set longer than %d bytes", maxContentSetLen))
		}
		if s = strings.TrimSpace(s); s != "" {
			sets = append(sets, s)
		}
	}
	return sets, nil
}

// skipReason is a problem with a file's content: the file is listed as skipped with
// it, and the walk goes on.
type skipReason string

func (r skipReason) Error() string { return string(r) }

func errSkip(reason string) error { return skipReason(reason) }
