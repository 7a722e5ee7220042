package fakeacr

import (
	"sort"
	"sync"
	"time"
)

// Memory is a Source whose repositories a test sets (SetManifest, Touch).
type Memory struct {
	mu    sync.Mutex
	repos map[string]*memoryRepo
}

type memoryRepo struct {
	created, updated time.Time
	manifests        map[string]Manifest
}

var _ Source = (*Memory)(nil)

// NewMemory returns an empty registry.
func NewMemory() *Memory { return &Memory{repos: map[string]*memoryRepo{}} }

// SetManifest adds or replaces a manifest of repo (creating the repository) and
// moves the repository's lastUpdateTime to the later of its own and the manifest's.
// Tags given here are removed from the repository's other manifests.
func (m *Memory) SetManifest(repo string, man Manifest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.repos[repo]
	if r == nil {
		r = &memoryRepo{created: man.CreatedTime, manifests: map[string]Manifest{}}
		m.repos[repo] = r
	}
	for digest, other := range r.manifests {
		other.Tags = without(other.Tags, man.Tags)
		r.manifests[digest] = other
	}
	r.manifests[man.Digest] = man
	r.updated = latest(r.updated, man.CreatedTime, man.LastUpdateTime)
}

// Touch sets repo's lastUpdateTime (e.g. a delete, which leaves no manifest time).
func (m *Memory) Touch(repo string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.repos[repo].updated = at
}

// Repositories returns every repository's name, sorted.
func (m *Memory) Repositories() ([]string, error) {
	m.mu.Lock()
	names := make([]string, 0, len(m.repos))
	for name := range m.repos {
		names = append(names, name)
	}
	m.mu.Unlock()
	sort.Strings(names)
	return names, nil
}

// Attributes returns repo's attributes.
func (m *Memory) Attributes(repo string) (Attributes, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.repos[repo]
	if !ok {
		return Attributes{}, false, nil
	}
	tags := 0
	for _, man := range r.manifests {
		tags += len(man.Tags)
	}
	return Attributes{Created: r.created, Updated: r.updated, ManifestCount: len(r.manifests), TagCount: tags}, true, nil
}

// Manifests returns repo's manifests.
func (m *Memory) Manifests(repo string) ([]Manifest, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.repos[repo]
	if !ok {
		return nil, false, nil
	}
	all := make([]Manifest, 0, len(r.manifests))
	for _, man := range r.manifests {
		all = append(all, man)
	}
	return all, true, nil
}

func without(tags, remove []string) []string {
	var out []string
	for _, t := range tags {
		drop := false
		for _, r := range remove {
			drop = drop || t == r
		}
		if !drop {
			out = append(out, t)
		}
	}
	return out
}
