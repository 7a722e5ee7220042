package store

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// UpsertFindings writes the findings of one platform image digest in transactions of
// at most 100 rows. A row that already exists keeps its FirstSeenAt and resolution
// state; a new row starts active with FirstSeenAt = now. LastSeenAt = now for all.
// Rows of digest absent from fs are left alone. Writing the same input twice yields
// the same rows (apart from LastSeenAt).
func (s *Store) UpsertFindings(ctx context.Context, digest string, fs []Finding, now time.Time) error {
	existing, err := s.findingKeys(ctx, digest)
	if err != nil {
		return fmt.Errorf("upserting findings of %s: %w", digest, err)
	}
	byKey := make(map[string]int, len(fs)) // one action per RowKey per transaction
	var entities []entity
	for _, f := range fs {
		f.Digest, f.LastSeenAt = digest, now
		e := f.dataEntity()
		if _, ok := existing[f.RowKey()]; !ok {
			e.setTime("FirstSeenAt", now)
			e.setString("State", StateActive)
		}
		if i, dup := byKey[f.RowKey()]; dup {
			entities[i] = e
			continue
		}
		byKey[f.RowKey()] = len(entities)
		entities = append(entities, e)
	}
	if err := submitBatches(ctx, s.findings, entities, aztables.TransactionTypeInsertMerge); err != nil {
		return fmt.Errorf("upserting findings of %s: %w", digest, err)
	}
	return nil
}

// findingKeys returns the RowKeys of digest's findings, each with its State.
func (s *Store) findingKeys(ctx context.Context, digest string) (map[string]string, error) {
	rows, err := listRows(ctx, s.findings, "PartitionKey eq "+odataQuote(EscapeKey(digest)), "RowKey,State")
	if err != nil {
		return nil, err
	}
	keys := make(map[string]string, len(rows))
	for _, r := range rows {
		keys[r.rowKey()] = r.str("State")
	}
	return keys, nil
}

// ResolveFindings marks every active finding of oldDigest that newDigest no longer
// has as resolved at now by newDigest, and returns how many it resolved. Already
// resolved rows are untouched, so a repeated call resolves nothing and keeps the
// first ResolvedAt.
func (s *Store) ResolveFindings(ctx context.Context, oldDigest, newDigest string, now time.Time) (int, error) {
	if oldDigest == newDigest {
		return 0, nil
	}
	old, err := s.findingKeys(ctx, oldDigest)
	if err != nil {
		return 0, fmt.Errorf("resolving findings of %s: %w", oldDigest, err)
	}
	current, err := s.findingKeys(ctx, newDigest)
	if err != nil {
		return 0, fmt.Errorf("resolving findings of %s: %w", oldDigest, err)
	}
	var entities []entity
	for rk, state := range old {
		if state != StateActive {
			continue
		}
		if _, still := current[rk]; still {
			continue
		}
		e := newEntity(EscapeKey(oldDigest), rk)
		e.setString("State", StateResolved)
		e.setTime("ResolvedAt", now)
		e.setString("ResolvedByDigest", newDigest)
		entities = append(entities, e)
	}
	if err := submitBatches(ctx, s.findings, entities, aztables.TransactionTypeUpdateMerge); err != nil {
		return 0, fmt.Errorf("resolving findings of %s by %s: %w", oldDigest, newDigest, err)
	}
	return len(entities), nil
}
