package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// stats is what was written.
type stats struct {
	entries           int
	unpacked, archive int64
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    map[string]string `json:"platform,omitempty"`
}

type blob struct {
	path string
	desc descriptor
}

// countingWriter counts and hashes what passes.
type countingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.h.Write(b[:n])
	c.n += int64(n)
	return n, err
}

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// write stages the layers and the jar in out+".stage", then writes the OCI layout
// archive to out and removes the stage.
func write(ctx context.Context, p plan, out string) (stats, error) {
	p.nestedJarBytes, p.smallFileMaxBytes = 2<<20, 10<<10
	stage := out + ".stage"
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return stats{}, err
	}
	defer os.RemoveAll(stage)
	rng := rand.NewChaCha8(seedBytes(p.seed))
	jarPath := filepath.Join(stage, "fat.jar")
	if err := p.writeFatJar(jarPath, rng); err != nil {
		return stats{}, fmt.Errorf("writing the fat jar: %w", err)
	}
	var st stats
	smallTotal := p.entries - specialEntries()
	var layers []blob
	var diffIDs []string
	for i := range p.layers {
		n := smallTotal / p.layers
		if i == p.layers-1 {
			n = smallTotal - n*(p.layers-1)
		}
		b, diffID, w, err := p.writeLayer(ctx, stage, i, n, jarPath, rng)
		if err != nil {
			return stats{}, fmt.Errorf("writing layer %d: %w", i, err)
		}
		st.entries += w.entries
		st.unpacked += w.bytes
		layers = append(layers, b)
		diffIDs = append(diffIDs, diffID)
	}
	config, err := jsonBlob(stage, "application/vnd.oci.image.config.v1+json", map[string]any{
		"architecture": "amd64", "os": "linux", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		return stats{}, err
	}
	layerDescs := make([]descriptor, len(layers))
	for i, l := range layers {
		layerDescs[i] = l.desc
	}
	manifest, err := jsonBlob(stage, "application/vnd.oci.image.manifest.v1+json", map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": config.desc, "layers": layerDescs,
	})
	if err != nil {
		return stats{}, err
	}
	index := manifest.desc
	index.Annotations = map[string]string{"org.opencontainers.image.ref.name": "tidewatch.test/synthetic:bench"}
	index.Platform = map[string]string{"architecture": "amd64", "os": "linux"}
	indexJSON, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []descriptor{index}})
	if err != nil {
		return stats{}, err
	}
	st.archive, err = writeArchive(out, indexJSON, append([]blob{config, manifest}, layers...))
	return st, err
}

func seedBytes(seed uint64) [32]byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return s
}

// writeLayer writes layer i (its special files, then n small ones) gzipped into
// stage and returns its blob, its diff ID and what it held.
func (p plan) writeLayer(ctx context.Context, stage string, i, n int, jarPath string, rng *rand.ChaCha8) (blob, string, *layerWriter, error) {
	path := filepath.Join(stage, fmt.Sprintf("layer-%02d", i))
	f, err := os.Create(path)
	if err != nil {
		return blob{}, "", nil, err
	}
	defer f.Close()
	compressed := &countingWriter{w: f, h: sha256.New()}
	zw, err := gzip.NewWriterLevel(compressed, gzip.BestSpeed)
	if err != nil {
		return blob{}, "", nil, err
	}
	uncompressed := &countingWriter{w: zw, h: sha256.New()}
	tw := tar.NewWriter(uncompressed)
	w := &layerWriter{ctx: ctx, tw: tw, rng: rng, buf: make([]byte, 256<<10)}
	if err := p.special(w, i, jarPath); err != nil {
		return blob{}, "", nil, err
	}
	if err := p.small(w, i, n); err != nil {
		return blob{}, "", nil, err
	}
	if err := tw.Close(); err != nil {
		return blob{}, "", nil, err
	}
	if err := zw.Close(); err != nil {
		return blob{}, "", nil, err
	}
	if err := f.Close(); err != nil {
		return blob{}, "", nil, err
	}
	return blob{path: path, desc: descriptor{
		MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: digestOf(compressed.h), Size: compressed.n,
	}}, digestOf(uncompressed.h), w, nil
}

func jsonBlob(stage, mediaType string, v any) (blob, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return blob{}, err
	}
	sum := sha256.Sum256(raw)
	path := filepath.Join(stage, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return blob{}, err
	}
	return blob{path: path, desc: descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(raw))}}, nil
}

// writeArchive writes the OCI layout tar: oci-layout, index.json and the blobs,
// each staged blob removed once copied.
func writeArchive(out string, indexJSON []byte, blobs []blob) (int64, error) {
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		body []byte
	}{{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {"index.json", indexJSON}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.body))}); err != nil {
			return 0, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return 0, err
		}
	}
	for _, b := range blobs {
		name := "blobs/sha256/" + b.desc.Digest[len("sha256:"):]
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: b.desc.Size}); err != nil {
			return 0, err
		}
		src, err := os.Open(b.path)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return 0, fmt.Errorf("copying %s: %w", name, err)
		}
		if err := os.Remove(b.path); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return info.Size(), f.Close()
}
