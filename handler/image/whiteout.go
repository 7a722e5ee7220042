package image

import (
	"path"
	"strings"
)

// OCI whiteout markers.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// Whiteout reports the path that this entry deletes from lower layers, if the
// entry is a ".wh.<name>" whiteout file.
func (e Entry) Whiteout() (deleted string, ok bool) {
	dir, base := path.Split(e.Path)
	if base == opaqueMarker || !strings.HasPrefix(base, whiteoutPrefix) {
		return "", false
	}
	return path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), true
}

// OpaqueDir reports the directory whose lower-layer contents this entry hides, if
// the entry is a ".wh..wh..opq" marker. The root directory is "".
func (e Entry) OpaqueDir() (dir string, ok bool) {
	dir, base := path.Split(e.Path)
	if base != opaqueMarker {
		return "", false
	}
	return strings.TrimSuffix(dir, "/"), true
}
