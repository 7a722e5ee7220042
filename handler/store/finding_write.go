package store

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// FindingsOf returns every finding row, active or resolved, of platform digest in
// registry/repository: one partition, one query.
func (s *Store) FindingsOf(ctx context.Context, registry, repository, digest string) ([]Finding, error) {
	rows, err := listRows(ctx, s.findings, "PartitionKey eq "+odataQuote(FindingsKey(registry, repository, digest)), "")
	if err != nil {
		return nil, fmt.Errorf("reading findings of %s/%s@%s: %w", registry, repository, digest, err)
	}
	out := make([]Finding, 0, len(rows))
	for _, r := range rows {
		out = append(out, findingFromRow(r))
	}
	return out, nil
}

// PutFindings writes whole finding rows of platform digest in registry/repository
// with insert-or-replace, in transactions of at most 100 (one partition). Each row's
// Registry, Repository and Digest are set to the partition's. A RowKey given twice is
// written once, the last one winning.
func (s *Store) PutFindings(ctx context.Context, registry, repository, digest string, fs []Finding) error {
	byKey := make(map[string]int, len(fs)) // one action per RowKey per transaction
	entities := make([]entity, 0, len(fs))
	for _, f := range fs {
		f.Registry, f.Repository, f.Digest = registry, repository, digest
		if i, dup := byKey[f.RowKey()]; dup {
			entities[i] = f.entity()
			continue
		}
		byKey[f.RowKey()] = len(entities)
		entities = append(entities, f.entity())
	}
	if err := submitBatches(ctx, s.findings, entities, aztables.TransactionTypeInsertReplace); err != nil {
		return fmt.Errorf("writing findings of %s/%s@%s: %w", registry, repository, digest, err)
	}
	return nil
}
