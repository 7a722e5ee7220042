package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// maxBatch is the Table service's limit on operations in one entity-group transaction.
const maxBatch = 100

// getRow reads one entity; ErrNotFound when it does not exist.
func getRow(ctx context.Context, t *aztables.Client, pk, rk string) (row, error) {
	resp, err := t.GetEntity(ctx, pk, rk, nil)
	if err != nil {
		if hasStatus(err, 404) {
			return row{}, ErrNotFound
		}
		return row{}, err
	}
	r, err := parseRow(resp.Value)
	if err != nil {
		return row{}, err
	}
	r.etag = string(resp.ETag)
	return r, nil
}

// upsert writes e with insert-or-replace (replace) or insert-or-merge (merge).
func upsert(ctx context.Context, t *aztables.Client, e entity, mode aztables.UpdateMode) error {
	body, err := e.marshal()
	if err != nil {
		return err
	}
	_, err = t.UpsertEntity(ctx, body, &aztables.UpsertEntityOptions{UpdateMode: mode})
	return err
}

// writeIf writes e conditionally: insert when etag is empty (ErrConflict if it exists
// by now), else replace or merge only if the entity still has that etag.
func writeIf(ctx context.Context, t *aztables.Client, e entity, etag string, mode aztables.UpdateMode) error {
	body, err := e.marshal()
	if err != nil {
		return err
	}
	if etag == "" {
		_, err = t.AddEntity(ctx, body, nil)
		if hasCode(err, string(aztables.EntityAlreadyExists)) || hasStatus(err, 409) {
			return ErrConflict
		}
		return err
	}
	match := azcore.ETag(etag)
	_, err = t.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{IfMatch: &match, UpdateMode: mode})
	if hasStatus(err, 412) || hasStatus(err, 404) {
		return ErrConflict
	}
	return err
}

// maxConcurrencyAttempts bounds optimistic-concurrency retries; contention on one
// entity comes from a handful of concurrent invocations, never hundreds.
const maxConcurrencyAttempts = 64

// readModifyWrite reads pk/rk, lets modify build the new entity from the current row
// (exists=false when absent), and writes it with the row's ETag, retrying on
// conflicts. modify returns write=false to leave the entity unchanged.
func readModifyWrite(ctx context.Context, t *aztables.Client, pk, rk string,
	modify func(current row, exists bool) (next entity, write bool, err error)) error {
	for attempt := 0; attempt < maxConcurrencyAttempts; attempt++ {
		current, err := getRow(ctx, t, pk, rk)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("reading %s/%s: %w", pk, rk, err)
		}
		next, write, err := modify(current, exists)
		if err != nil || !write {
			return err
		}
		err = writeIf(ctx, t, next, current.etag, aztables.UpdateModeReplace)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("writing %s/%s: %w", pk, rk, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("writing %s/%s: %w after %d attempts", pk, rk, ErrConflict, maxConcurrencyAttempts)
}

// backoff waits a short jittered time that grows with attempt, so colliding writers
// spread out instead of colliding again.
func backoff(ctx context.Context, attempt int) error {
	ceiling := time.Duration(1+min(attempt, 6)) * 5 * time.Millisecond
	timer := time.NewTimer(rand.N(ceiling))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// submitBatches writes entities of one partition in transactions of at most maxBatch.
// Updates (merge, replace) carry If-Match "*": they never resurrect a deleted row.
func submitBatches(ctx context.Context, t *aztables.Client, entities []entity, action aztables.TransactionType) error {
	actions := make([]tableAction, 0, len(entities))
	for _, e := range entities {
		a := tableAction{entity: e, action: action}
		if action == aztables.TransactionTypeUpdateMerge || action == aztables.TransactionTypeUpdateReplace {
			a.etag = string(azcore.ETagAny)
		}
		actions = append(actions, a)
	}
	return submitActions(ctx, t, actions)
}

// tableAction is one operation of an entity-group transaction; etag, when set, is
// the If-Match condition of an update or delete.
type tableAction struct {
	entity entity
	action aztables.TransactionType
	etag   string
}

// submitActions runs actions of one partition in transactions of at most maxBatch. A
// transaction refused because a row changed or appeared meanwhile is ErrConflict.
func submitActions(ctx context.Context, t *aztables.Client, actions []tableAction) error {
	_, err := submitActionsETags(ctx, t, actions)
	return err
}

// submitActionsETags is submitActions that also returns the ETag each action's row
// was given, in the order of actions ("" for a delete), or nil when an answer could
// not be read for them (the rows are written all the same; their versions are then
// unknown and the caller reads them again before it writes them conditionally).
func submitActionsETags(ctx context.Context, t *aztables.Client, actions []tableAction) ([]string, error) {
	etags := make([]string, 0, len(actions))
	for start := 0; start < len(actions); start += maxBatch {
		end := min(start+maxBatch, len(actions))
		batch := make([]aztables.TransactionAction, 0, end-start)
		for _, a := range actions[start:end] {
			body, err := a.entity.marshal()
			if err != nil {
				return nil, err
			}
			ta := aztables.TransactionAction{ActionType: a.action, Entity: body}
			if a.etag != "" {
				etag := azcore.ETag(a.etag)
				ta.IfMatch = &etag
			}
			batch = append(batch, ta)
		}
		var resp *http.Response
		if _, err := t.SubmitTransaction(runtime.WithCaptureResponse(ctx, &resp), batch, nil); err != nil {
			if hasStatus(err, 412) || hasStatus(err, 409) || batchRefused(err, 412) || batchRefused(err, 409) {
				err = fmt.Errorf("%w: %w", ErrConflict, err)
			}
			return nil, fmt.Errorf("submitting transaction of %d entities: %w", len(batch), err)
		}
		etags = appendTransactionETags(etags, resp, len(batch))
	}
	return etags, nil
}

// appendTransactionETags appends the ETags of a committed transaction of n actions
// to etags, or returns nil when they can't be read (nor then any later ones).
func appendTransactionETags(etags []string, resp *http.Response, n int) []string {
	if etags == nil || resp == nil {
		return nil
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return nil
	}
	got, err := transactionETags(resp, body, n)
	if err != nil {
		return nil
	}
	return append(etags, got...)
}

// batchRefused reports whether a transaction failed because one of its operations
// got status: the service answers 202 and the SDK's error carries the multipart
// body, in which the failed operation's status line is the only structured trace.
func batchRefused(err error, status int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == 202 &&
		strings.Contains(err.Error(), fmt.Sprintf("HTTP/1.1 %d ", status))
}

// listRows returns every entity matching filter (OData), optionally only the
// selected columns.
func listRows(ctx context.Context, t *aztables.Client, filter, sel string) ([]row, error) {
	return listRowsOpts(ctx, t, filter, sel, 0)
}

// listRowsLimit returns at most limit entities matching filter, in key order.
func listRowsLimit(ctx context.Context, t *aztables.Client, filter string, limit int) ([]row, error) {
	return listRowsOpts(ctx, t, filter, "", limit)
}

func listRowsOpts(ctx context.Context, t *aztables.Client, filter, sel string, limit int) ([]row, error) {
	var opts aztables.ListEntitiesOptions
	if limit > 0 {
		top := int32(min(limit, 1000))
		opts.Top = &top
	}
	if filter != "" {
		opts.Filter = &filter
	}
	if sel != "" {
		opts.Select = &sel
	}
	var rows []row
	pager := t.NewListEntitiesPager(&opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing entities (filter %q): %w", filter, err)
		}
		for _, raw := range page.Entities {
			r, err := parseRow(raw)
			if err != nil {
				return nil, err
			}
			rows = append(rows, r)
			if limit > 0 && len(rows) == limit {
				return rows, nil
			}
		}
	}
	return rows, nil
}
