package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// storage is the filesystem storage driver's tree of a distribution registry (the
// Debian docker-registry 2.8.2: registry/storage/paths.go and driver/filesystem at
// tag v2.8.2 of distribution/distribution), rooted at the config's
// storage.filesystem.rootdirectory. It writes the files a push writes:
//
//	docker/registry/v2/blobs/sha256/<hex[:2]>/<hex>/data            every blob, manifests included
//	docker/registry/v2/repositories/<name>/_layers/sha256/<hex>/link  layers and configs (blob uploads)
//	  .../<name>/_manifests/revisions/sha256/<hex>/link               manifests (manifest PUTs)
//	  .../<name>/_manifests/tags/<tag>/current/link                   the tag's manifest
//	  .../<name>/_manifests/tags/<tag>/index/sha256/<hex>/link        every manifest the tag has had
//
// A link file holds the digest string ("sha256:<hex>", no newline). The catalog lists
// the directories holding _layers. Files are 0666 and directories 0777 before the
// umask, as the driver creates them.
type storage struct{ root string }

func (s storage) v2(elem ...string) string {
	return filepath.Join(append([]string{s.root, "docker", "registry", "v2"}, elem...)...)
}

// blob writes data as the blob with digest d.
func (s storage) blob(d v1.Hash, data []byte) error {
	return writeFile(s.v2("blobs", d.Algorithm, d.Hex[:2], d.Hex, "data"), data)
}

// layerLink links blob d (a layer or a config) into repository repo.
func (s storage) layerLink(repo string, d v1.Hash) error {
	return writeFile(s.v2("repositories", repo, "_layers", d.Algorithm, d.Hex, "link"), []byte(d.String()))
}

// revisionLink links manifest d into repository repo.
func (s storage) revisionLink(repo string, d v1.Hash) error {
	return writeFile(s.v2("repositories", repo, "_manifests", "revisions", d.Algorithm, d.Hex, "link"), []byte(d.String()))
}

// tag points tag of repository repo at manifest d, as the tag store does: the index
// entry first, then current.
func (s storage) tag(repo, tag string, d v1.Hash) error {
	dir := s.v2("repositories", repo, "_manifests", "tags", tag)
	if err := writeFile(filepath.Join(dir, "index", d.Algorithm, d.Hex, "link"), []byte(d.String())); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "current", "link"), []byte(d.String()))
}

// writeFile writes data to path, creating its directories. Not synced: a seed that
// dies is run again.
func writeFile(path string, data []byte) error {
	err := os.WriteFile(path, data, 0o666)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(path), 0o777); err == nil {
			err = os.WriteFile(path, data, 0o666)
		}
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
