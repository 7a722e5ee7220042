package lifecycle

import (
	"context"
	"sort"

	"github.com/tidewatch/tidewatch/handler/store"
)

// memStore is an in-memory Store: finding rows by (repository@digest, RowKey) and
// the counts last set per repository@digest.
type memStore struct {
	rows   map[string]map[string]store.Finding
	counts map[string]store.Counts
	writes int
}

func newMemStore() *memStore {
	return &memStore{rows: map[string]map[string]store.Finding{}, counts: map[string]store.Counts{}}
}

func partition(registry, repository, digest string) string {
	return registry + "/" + repository + "@" + digest
}

func (m *memStore) FindingsOf(_ context.Context, registry, repository, digest string) ([]store.Finding, error) {
	var out []store.Finding
	for _, f := range m.rows[partition(registry, repository, digest)] {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RowKey() < out[j].RowKey() })
	return out, nil
}

func (m *memStore) PutFindings(_ context.Context, registry, repository, digest string, fs []store.Finding) error {
	pk := partition(registry, repository, digest)
	if m.rows[pk] == nil {
		m.rows[pk] = map[string]store.Finding{}
	}
	for _, f := range fs {
		f.Registry, f.Repository, f.Digest = registry, repository, digest
		m.rows[pk][f.RowKey()] = f
		m.writes++
	}
	return nil
}

func (m *memStore) SetImageCounts(_ context.Context, registry, repository, digest string, c store.Counts) error {
	m.counts[partition(registry, repository, digest)] = c
	return nil
}

// states returns "RowKey → state/reason/by" of one partition.
func (m *memStore) states(repository, digest string) map[string]string {
	out := map[string]string{}
	for k, f := range m.rows[partition(testRegistry, repository, digest)] {
		s := f.State
		if f.ResolvedReason != "" {
			s += "/" + f.ResolvedReason
		}
		if f.ResolvedByDigest != "" {
			s += "/" + f.ResolvedByDigest
		}
		out[k] = s
	}
	return out
}
