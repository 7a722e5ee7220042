package fakeacr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Storage is a Source reading a docker-registry's filesystem storage (the
// filesystem driver's rootdirectory), so the fake lists what real pushes left:
//
//	docker/registry/v2/repositories/<repo>/_manifests/revisions/sha256/<hex>/link
//	docker/registry/v2/repositories/<repo>/_manifests/tags/<tag>/current/link
//	docker/registry/v2/blobs/sha256/<hex[:2]>/<hex>/data
//
// The times are the link files' modification times, which the registry writes on
// every push: a manifest's createdTime is the earliest of its revision link's and
// its tags' index links', its lastUpdateTime the latest of its revision link's and
// the current links of the tags pointing at it; a
// repository's lastUpdateTime is the latest of every link and of the tags and
// revisions directories (a deleted tag or manifest changes those). Nothing is
// cached but manifest contents, which a digest fixes.
type Storage struct {
	root string // .../docker/registry/v2

	mu       sync.Mutex
	contents map[string]content // digest → what its blobs say
}

var _ Source = (*Storage)(nil)

// NewStorage reads the registry whose filesystem rootdirectory is root.
func NewStorage(root string) (*Storage, error) {
	v2 := filepath.Join(root, "docker", "registry", "v2")
	if _, err := os.Stat(filepath.Join(v2, "repositories")); err != nil {
		return nil, fmt.Errorf("not a docker-registry storage root: %w", err)
	}
	return &Storage{root: v2, contents: map[string]content{}}, nil
}

// Repositories returns every directory under repositories/ that has _manifests.
func (s *Storage) Repositories() ([]string, error) {
	base := filepath.Join(s.root, "repositories")
	var names []string
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), "_") {
			if d.Name() == "_manifests" {
				rel, err := filepath.Rel(base, filepath.Dir(path))
				if err != nil {
					return err
				}
				names = append(names, filepath.ToSlash(rel))
			}
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing repositories: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

// Attributes returns repo's counts and times from its link files.
func (s *Storage) Attributes(repo string) (Attributes, bool, error) {
	st, ok, err := s.state(repo)
	if err != nil || !ok {
		return Attributes{}, ok, err
	}
	a := Attributes{Updated: st.updated, ManifestCount: len(st.revisions), TagCount: len(st.tags)}
	for _, at := range st.revisions {
		if a.Created.IsZero() || at.Before(a.Created) {
			a.Created = at
		}
	}
	return a, true, nil
}

// Manifests returns every revision of repo with its tags, times and contents.
func (s *Storage) Manifests(repo string) ([]Manifest, bool, error) {
	st, ok, err := s.state(repo)
	if err != nil || !ok {
		return nil, ok, err
	}
	byDigest := map[string]*Manifest{}
	out := make([]Manifest, 0, len(st.revisions))
	for digest, at := range st.revisions {
		c, err := s.content(digest)
		if err != nil {
			return nil, true, err
		}
		m := Manifest{Digest: digest, ImageSize: c.size, CreatedTime: at, LastUpdateTime: at,
			MediaType: c.mediaType, References: c.references}
		if c.architecture != "" || c.os != "" {
			m.Architecture, m.OS = &c.architecture, &c.os
		}
		out = append(out, m)
	}
	for i := range out {
		byDigest[out[i].Digest] = &out[i]
	}
	for tag, t := range st.tags {
		m, ok := byDigest[t.digest]
		if !ok {
			continue // a tag whose manifest is gone: the registry does not serve it either
		}
		m.Tags = append(m.Tags, tag)
		m.LastUpdateTime = latest(m.LastUpdateTime, t.at)
	}
	// The registry rewrites a revision link on every put of the manifest (a retag
	// too), but each tag keeps an index link per digest it ever pointed at, written
	// when it first did: the earliest is the manifest's first push.
	for tag := range st.tags {
		index := filepath.Join(s.root, "repositories", filepath.FromSlash(repo), "_manifests", "tags", tag, "index", "sha256")
		entries, err := os.ReadDir(index)
		if err != nil {
			continue
		}
		for _, e := range entries {
			m, ok := byDigest["sha256:"+e.Name()]
			if !ok {
				continue
			}
			if _, at, ok := readLink(filepath.Join(index, e.Name(), "link")); ok && at.Before(m.CreatedTime) {
				m.CreatedTime = at
			}
		}
	}
	for i := range out {
		sort.Strings(out[i].Tags)
	}
	return out, true, nil
}

// repoState is what a repository's link files say.
type repoState struct {
	revisions map[string]time.Time // digest → its revision link's mtime
	tags      map[string]tagLink
	updated   time.Time
}

type tagLink struct {
	digest string
	at     time.Time
}

func (s *Storage) state(repo string) (repoState, bool, error) {
	if !validRepository(repo) {
		return repoState{}, false, nil
	}
	dir := filepath.Join(s.root, "repositories", filepath.FromSlash(repo), "_manifests")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return repoState{}, false, nil
	}
	st := repoState{revisions: map[string]time.Time{}, tags: map[string]tagLink{}}
	revisions := filepath.Join(dir, "revisions", "sha256")
	entries, err := readDir(revisions, &st.updated)
	if err != nil {
		return repoState{}, true, err
	}
	for _, e := range entries {
		if _, at, ok := readLink(filepath.Join(revisions, e.Name(), "link")); ok {
			st.revisions["sha256:"+e.Name()] = at
			st.updated = latest(st.updated, at)
		}
	}
	tags := filepath.Join(dir, "tags")
	entries, err = readDir(tags, &st.updated)
	if err != nil {
		return repoState{}, true, err
	}
	for _, e := range entries {
		if digest, at, ok := readLink(filepath.Join(tags, e.Name(), "current", "link")); ok {
			st.tags[e.Name()] = tagLink{digest: digest, at: at}
			st.updated = latest(st.updated, at)
		}
	}
	return st, true, nil
}

// readDir lists dir (none when it does not exist) and moves updated to its mtime.
func readDir(dir string, updated *time.Time) ([]os.DirEntry, error) {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	*updated = latest(*updated, info.ModTime())
	return os.ReadDir(dir)
}

// readLink reads a link file: the digest it holds and its mtime; false when it is
// missing or not (yet) a digest, as while the registry writes it.
func readLink(path string) (string, time.Time, bool) {
	info, err := os.Stat(path)
	if err != nil {
		return "", time.Time{}, false
	}
	raw, err := os.ReadFile(path)
	digest := string(raw)
	if err != nil || !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
		return "", time.Time{}, false
	}
	return digest, info.ModTime(), true
}

func validRepository(repo string) bool {
	for _, seg := range strings.Split(repo, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, "_") {
			return false
		}
	}
	return true
}

// content is what a manifest's blob (and an image's config blob) say.
type content struct {
	mediaType        string
	size             int64 // config and layers, as ACR's imageSize
	architecture, os string
	references       []PlatformRef
}

func (s *Storage) content(digest string) (content, error) {
	s.mu.Lock()
	c, ok := s.contents[digest]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	raw, err := s.blob(digest)
	if err != nil {
		return content{}, fmt.Errorf("reading manifest %s: %w", digest, err)
	}
	var m struct {
		MediaType string `json:"mediaType"`
		Config    struct {
			Digest string `json:"digest"`
			Size   int64  `json:"size"`
		} `json:"config"`
		Layers []struct {
			Size int64 `json:"size"`
		} `json:"layers"`
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform struct {
				Architecture string `json:"architecture"`
				OS           string `json:"os"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return content{}, fmt.Errorf("decoding manifest %s: %w", digest, err)
	}
	c = content{mediaType: m.MediaType, size: m.Config.Size}
	for _, l := range m.Layers {
		c.size += l.Size
	}
	for _, child := range m.Manifests {
		c.references = append(c.references, PlatformRef{Digest: child.Digest, Architecture: child.Platform.Architecture, OS: child.Platform.OS})
	}
	if m.Config.Digest != "" {
		raw, err := s.blob(m.Config.Digest)
		if err != nil {
			return content{}, fmt.Errorf("reading config %s of %s: %w", m.Config.Digest, digest, err)
		}
		var cfg struct {
			Architecture string `json:"architecture"`
			OS           string `json:"os"`
		}
		if json.Unmarshal(raw, &cfg) == nil {
			c.architecture, c.os = cfg.Architecture, cfg.OS
		}
	}
	s.mu.Lock()
	s.contents[digest] = c
	s.mu.Unlock()
	return c, nil
}

func (s *Storage) blob(digest string) ([]byte, error) {
	hex, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hex) != 64 {
		return nil, fmt.Errorf("digest %q is not sha256", digest)
	}
	return os.ReadFile(filepath.Join(s.root, "blobs", "sha256", hex[:2], hex, "data"))
}
