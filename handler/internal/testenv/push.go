package testenv

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushImage pushes a shared fixture image (an OCI-layout tarball, e.g.
// "debian12-multiarch") unchanged to ref ("HOST/repo:tag", plain HTTP): the one image
// or image index its index.json names, so the registry serves the sidecar's digests.
// opts are passed to remote.Write or remote.WriteIndex after a default
// remote.WithContext(t.Context()), e.g. remote.WithAuth. Any failure fails the test.
func PushImage(t testing.TB, image, ref string, opts ...remote.Option) {
	t.Helper()
	archive := Image(t, image)
	dir := t.TempDir()
	if err := untar(archive, dir); err != nil {
		t.Fatalf("unpacking %s: %v", archive, err)
	}
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading the OCI layout of %s: %v", archive, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatalf("reading index.json of %s: %v", archive, err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("%s: index.json names %d manifests, want 1", archive, len(im.Manifests))
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatalf("parsing %s: %v", ref, err)
	}
	opts = append([]remote.Option{remote.WithContext(t.Context())}, opts...)
	d := im.Manifests[0]
	if d.MediaType.IsIndex() {
		idx, err := ii.ImageIndex(d.Digest)
		if err == nil {
			err = remote.WriteIndex(r, idx, opts...)
		}
		if err != nil {
			t.Fatalf("pushing %s to %s: %v", image, ref, err)
		}
		return
	}
	img, err := ii.Image(d.Digest)
	if err == nil {
		err = remote.Write(r, img, opts...)
	}
	if err != nil {
		t.Fatalf("pushing %s to %s: %v", image, ref, err)
	}
}

// Push pushes a shared fixture image to repoTag ("demo/app:1") on r, with r's basic
// auth credentials when it has them.
func (r *Registry) Push(t testing.TB, image, repoTag string) {
	t.Helper()
	auth := authn.Anonymous
	if r.Username != "" {
		auth = &authn.Basic{Username: r.Username, Password: r.Password}
	}
	PushImage(t, image, r.Ref(repoTag), remote.WithAuth(auth))
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
