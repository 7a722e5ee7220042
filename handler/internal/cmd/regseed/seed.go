package main

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// repoWriter writes one repository's artifacts and tags into the storage.
type repoWriter struct {
	st     storage
	repo   string
	shared map[v1.Hash]bool // blobs already in the blob store (the shared layers)
	linked map[v1.Hash]bool // blobs and manifests already linked into repo
	counts *seedCounts
}

// seedCounts is what one repository wrote.
type seedCounts struct{ manifests, blobs int }

// artifact writes a v1.Image or v1.ImageIndex (children first, as a push does) and
// returns its digest.
func (w *repoWriter) artifact(a any) (v1.Hash, error) {
	switch a := a.(type) {
	case v1.ImageIndex:
		return w.index(a)
	case v1.Image:
		return w.image(a)
	default:
		return v1.Hash{}, fmt.Errorf("unexpected artifact %T", a)
	}
}

func (w *repoWriter) index(idx v1.ImageIndex) (v1.Hash, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading an index manifest: %w", err)
	}
	for _, desc := range im.Manifests {
		child, err := idx.Image(desc.Digest)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("reading index child %s: %w", desc.Digest, err)
		}
		if _, err := w.image(child); err != nil {
			return v1.Hash{}, err
		}
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("serialising an index: %w", err)
	}
	return w.manifest(raw)
}

func (w *repoWriter) image(img v1.Image) (v1.Hash, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading layers: %w", err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return v1.Hash{}, fmt.Errorf("digesting a layer: %w", err)
		}
		if err := w.layer(d, func() ([]byte, error) { return compressed(l) }); err != nil {
			return v1.Hash{}, err
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("digesting a config: %w", err)
	}
	if err := w.layer(cfgName, img.RawConfigFile); err != nil {
		return v1.Hash{}, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("serialising a manifest: %w", err)
	}
	return w.manifest(raw)
}

// layer stores blob d (unless it is a shared one, stored once) and links it into the
// repository, as a blob upload or cross-repository mount does.
func (w *repoWriter) layer(d v1.Hash, data func() ([]byte, error)) error {
	if w.linked[d] {
		return nil
	}
	if !w.shared[d] {
		b, err := data()
		if err != nil {
			return fmt.Errorf("reading blob %s: %w", d, err)
		}
		if err := w.st.blob(d, b); err != nil {
			return err
		}
		w.counts.blobs++
	}
	if err := w.st.layerLink(w.repo, d); err != nil {
		return err
	}
	w.linked[d] = true
	return nil
}

// manifest stores a manifest blob and links it as a revision of the repository.
func (w *repoWriter) manifest(raw []byte) (v1.Hash, error) {
	d := sha(raw)
	if w.linked[d] {
		return d, nil
	}
	if err := w.st.blob(d, raw); err != nil {
		return v1.Hash{}, err
	}
	if err := w.st.revisionLink(w.repo, d); err != nil {
		return v1.Hash{}, err
	}
	w.linked[d] = true
	w.counts.manifests++
	return d, nil
}

func compressed(l v1.Layer) ([]byte, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// taggedDigest is one line of the -digests report.
type taggedDigest struct {
	tag    string
	digest v1.Hash
}

// seedRepo writes repository i of the plan: every distinct artifact once, then every
// tag (aliases point at the artifact already written).
func seedRepo(g *generator, st storage, shared map[v1.Hash]bool, i int) (repoPlan, []taggedDigest, seedCounts, error) {
	p := g.plan(i)
	var counts seedCounts
	w := &repoWriter{st: st, repo: p.name, shared: shared, linked: map[v1.Hash]bool{}, counts: &counts}
	written := map[int]v1.Hash{}
	tags := make([]taggedDigest, 0, len(p.tags))
	for t, tag := range p.tags {
		n := p.image[t]
		d, ok := written[n]
		if !ok {
			a, err := g.artifact(p, n)
			if err != nil {
				return p, nil, counts, fmt.Errorf("building %s image %d: %w", p.name, n, err)
			}
			if d, err = w.artifact(a); err != nil {
				return p, nil, counts, fmt.Errorf("writing %s image %d: %w", p.name, n, err)
			}
			written[n] = d
		}
		if err := st.tag(p.name, tag, d); err != nil {
			return p, nil, counts, fmt.Errorf("tagging %s:%s: %w", p.name, tag, err)
		}
		tags = append(tags, taggedDigest{tag: tag, digest: d})
	}
	return p, tags, counts, nil
}
