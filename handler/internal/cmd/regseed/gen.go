package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// This generator reproduces ../shared/tools/regfill/gen.go (a separate module, so it
// cannot be imported) byte for byte: for the same seed, tag count, shared layer count
// and index fraction it yields regfill's repository names, tags and digests, so a
// seeded registry is the registry a regfill push would leave, and regfill -update and
// -list work on it unchanged. The test checks this against a real regfill push.
//
// Everything is a pure function of the seed and the repository number.

var (
	orgs     = []string{"platform", "data.eng", "ml_infra", "payments", "sre", "frontend", "mobile", "security", "search", "core-services"}
	groups   = []string{"backend", "jobs", "tools", "edge"}
	services = []string{"api", "web", "worker", "gateway", "auth-service", "billing", "ledger", "notifier", "search_indexer",
		"image.resizer", "etl", "scheduler", "cache-warmer", "metrics_exporter", "user-profile", "inventory", "checkout",
		"reco.engine", "fraud-detector", "service"}
	seps = []string{"-", "-", "-", "_", "."}
)

// repoPlan is one repository: its tags and which image each tag points to.
type repoPlan struct {
	name  string
	tags  []string
	image []int  // image number of each tag; aliases ("latest", ~10 % of the others) share one
	index []bool // by image number: an amd64+arm64 OCI index rather than one image
}

// generator builds the plans and artifacts of one fill.
type generator struct {
	seed      uint64
	ntags     int
	indexFrac float64
	shared    []v1.Layer // base layers of every image (one blob each in the whole registry)
	base      v1.Image
}

func newGenerator(seed uint64, ntags, nshared int, indexFrac float64) *generator {
	g := &generator{seed: seed, ntags: ntags, indexFrac: indexFrac}
	for k := range nshared {
		b := make([]byte, 16<<10) // random, so it does not compress away
		r := rand.New(rand.NewPCG(seed, 1<<40+uint64(k)))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		g.shared = append(g.shared, newLayer(fmt.Sprintf("usr/lib/base%d/blob.bin", k), b))
	}
	g.base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	return g
}

func (g *generator) plan(i int) repoPlan {
	r := rand.New(rand.NewPCG(g.seed, uint64(i)))
	var org string
	if r.IntN(10) < 6 {
		org = fmt.Sprintf("team-%02d", r.IntN(40))
	} else {
		org = orgs[r.IntN(len(orgs))]
	}
	if r.IntN(5) == 0 {
		org += "/" + groups[r.IntN(len(groups))]
	}
	// The trailing number is the repository index, which keeps names unique.
	p := repoPlan{name: org + "/" + services[r.IntN(len(services))] + seps[r.IntN(len(seps))] + strconv.Itoa(i)}

	style, seen, img := r.IntN(4), map[string]bool{}, -1
	for t := range g.ntags {
		tag := g.tagName(r, style, t)
		if seen[tag] {
			tag += "_" + strconv.Itoa(t)
		}
		seen[tag] = true
		if t > 0 && (tag == "latest" || r.IntN(10) == 0) {
			p.image = append(p.image, img)
		} else {
			img++
			p.image = append(p.image, img)
			p.index = append(p.index, r.Float64() < g.indexFrac)
		}
		p.tags = append(p.tags, tag)
	}
	return p
}

// tagName is tag t of a repository whose tags follow style; the last tag is "latest".
func (g *generator) tagName(r *rand.Rand, style, t int) string {
	switch {
	case t == g.ntags-1 && t > 0:
		return "latest"
	case style == 0:
		return fmt.Sprintf("%d.%d.%d", 1+t/25, t/5%5, t%5)
	case style == 1:
		return fmt.Sprintf("v%d.%d.%d", 1+t/25, t/5%5, t%5)
	case style == 2:
		return fmt.Sprintf("%d.%02d.%02d", 2024+t/336, 1+t/28%12, 1+t%28)
	default:
		return fmt.Sprintf("sha-%07x", r.Uint32()>>4)
	}
}

// artifact builds image number n of repository p: a v1.Image, or a v1.ImageIndex of
// an amd64 and an arm64 image.
func (g *generator) artifact(p repoPlan, n int) (any, error) {
	// regfill salts with the old digest on -update; a fill has none.
	key := fmt.Sprintf("seed=%d repo=%s image=%d salt=", g.seed, p.name, n)
	if !p.index[n] {
		return g.image(key, "amd64", n)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := g.image(key, arch, n)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return idx, nil
}

// image is the shared layers plus one small layer unique to key and arch.
func (g *generator) image(key, arch string, n int) (v1.Image, error) {
	sum := sha256.Sum256([]byte(key + " " + arch))
	uniq := newLayer(fmt.Sprintf("opt/app/%x.txt", sum[:8]), []byte(key+" arch="+arch+"\n"))
	img, err := mutate.AppendLayers(g.base, append(append([]v1.Layer{}, g.shared...), uniq)...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Hour)}
	for i := range cf.History {
		cf.History[i] = v1.History{Created: cf.Created, CreatedBy: fmt.Sprintf("regfill layer %d", i)}
	}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Cmd = []string{"/opt/app/run"}
	return mutate.ConfigFile(img, cf)
}

// memLayer is a gzipped tar held in memory with precomputed digests.
type memLayer struct {
	tar, gz      []byte
	digest, diff v1.Hash
}

// newLayer returns a layer holding one file; it is byte-for-byte reproducible.
func newLayer(path string, content []byte) v1.Layer {
	var tb, gb bytes.Buffer
	tw := tar.NewWriter(&tb)
	// Writes to a bytes.Buffer cannot fail.
	_ = tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg,
		ModTime: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Format: tar.FormatPAX})
	_, _ = tw.Write(content)
	_ = tw.Close()
	zw := gzip.NewWriter(&gb)
	_, _ = zw.Write(tb.Bytes())
	_ = zw.Close()
	return &memLayer{tar: tb.Bytes(), gz: gb.Bytes(), digest: sha(gb.Bytes()), diff: sha(tb.Bytes())}
}

func sha(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", s)}
}

func (l *memLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error)            { return l.diff, nil }
func (l *memLayer) Size() (int64, error)                { return int64(len(l.gz)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.tar)), nil
}
