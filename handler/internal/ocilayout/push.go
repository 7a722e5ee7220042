// Package ocilayout pushes an image archive holding an OCI image layout (the shared
// fixtures' format) to a registry unchanged, so the registry serves the archive's own
// digests. Tests and the demo tool use it; the scanner itself never unpacks archives
// (package image reads them in place).
package ocilayout

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push unpacks archive into a temporary directory and pushes the one image or image
// index its index.json names to ref. opts follow a default remote.WithContext(ctx).
func Push(ctx context.Context, archive string, ref name.Reference, opts ...remote.Option) error {
	dir, err := os.MkdirTemp("", "ocilayout-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := untar(archive, dir); err != nil {
		return fmt.Errorf("unpacking %s: %w", archive, err)
	}
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return fmt.Errorf("reading the OCI layout of %s: %w", archive, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading index.json of %s: %w", archive, err)
	}
	if len(im.Manifests) != 1 {
		return fmt.Errorf("%s: index.json names %d manifests, want 1", archive, len(im.Manifests))
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	d := im.Manifests[0]
	if d.MediaType.IsIndex() {
		idx, err := ii.ImageIndex(d.Digest)
		if err == nil {
			err = remote.WriteIndex(ref, idx, opts...)
		}
		if err != nil {
			return fmt.Errorf("pushing %s to %s: %w", archive, ref, err)
		}
		return nil
	}
	img, err := ii.Image(d.Digest)
	if err == nil {
		err = remote.Write(ref, img, opts...)
	}
	if err != nil {
		return fmt.Errorf("pushing %s to %s: %w", archive, ref, err)
	}
	return nil
}

// untar extracts the directories and regular files of archive under dir; other
// entries (links, devices) do not occur in an OCI layout and are skipped.
func untar(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", archive, err)
		}
		// Cleaning below "/" keeps every entry inside dir.
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = writeFile(target, tr)
		}
		if err != nil {
			return fmt.Errorf("extracting %s: %w", h.Name, err)
		}
	}
}

// writeFile copies r to a new file at path, creating its directory.
func writeFile(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
