package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const dpkgStatus = "var/lib/dpkg/status"

// patch pushes newRef = baseRef + one layer installing debs over the base's packages.
func patch(ctx context.Context, baseRef, newRef string, debs []string) error {
	base, err := parseRef(baseRef)
	if err != nil {
		return err
	}
	target, err := parseRef(newRef)
	if err != nil {
		return err
	}
	img, err := remote.Image(base, remoteOpts(ctx)...)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", baseRef, err)
	}
	status, err := readMergedFile(mutate.Extract(img), dpkgStatus)
	if err != nil {
		return fmt.Errorf("reading %s of %s: %w", dpkgStatus, baseRef, err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	stanzas := splitStanzas(string(status))
	for _, deb := range debs {
		control, err := exec.CommandContext(ctx, "dpkg-deb", "-f", deb).Output()
		if err != nil {
			return fmt.Errorf("reading control fields of %s: %w", deb, err)
		}
		stanzas = upsertStanza(stanzas, installedStanza(string(control)))
		if err := copyDebFiles(ctx, tw, deb); err != nil {
			return fmt.Errorf("copying files of %s: %w", deb, err)
		}
	}
	newStatus := strings.Join(stanzas, "\n\n") + "\n"
	if err := tw.WriteHeader(&tar.Header{Name: dpkgStatus, Mode: 0o644, Size: int64(len(newStatus)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, newStatus); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layer.Bytes())), nil
	})
	if err != nil {
		return err
	}
	patched, err := mutate.AppendLayers(img, l)
	if err != nil {
		return err
	}
	return remote.Write(target, patched, remoteOpts(ctx)...)
}

func readMergedFile(rc io.ReadCloser, name string) ([]byte, error) {
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s not found", name)
		}
		if err != nil {
			return nil, err
		}
		if path.Clean(strings.TrimPrefix(h.Name, "./")) == name {
			return io.ReadAll(tr)
		}
	}
}

// splitStanzas splits a dpkg status file into its paragraphs (without trailing newlines).
func splitStanzas(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// installedStanza turns a .deb's control fields into a status paragraph.
func installedStanza(control string) string {
	lines := strings.Split(strings.TrimSpace(control), "\n")
	out := []string{lines[0], "Status: install ok installed"}
	return strings.Join(append(out, lines[1:]...), "\n")
}

func field(stanza, key string) string {
	for _, line := range strings.Split(stanza, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return v
		}
	}
	return ""
}

// upsertStanza replaces the paragraph of the same Package and Architecture, or appends.
func upsertStanza(stanzas []string, s string) []string {
	for i, old := range stanzas {
		if field(old, "Package") == field(s, "Package") && field(old, "Architecture") == field(s, "Architecture") {
			stanzas[i] = s
			return stanzas
		}
	}
	return append(stanzas, s)
}

func copyDebFiles(ctx context.Context, tw *tar.Writer, deb string) error {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		h.Name = strings.TrimPrefix(h.Name, "./")
		if h.Name == "" {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return cmd.Wait()
}
