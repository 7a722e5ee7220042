package loganalytics

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/query/azlogs"
	"github.com/google/go-containerregistry/pkg/name"
)

// maxRejectedListed bounds the rejected rows described in a Result.
const maxRejectedListed = 10

// readPulls reads the query's primary table. Cells are positional, matched to the
// columns by name; scalars may come as JSON numbers or as strings (the service's
// own example returns "1" for a long).
func readPulls(registryHost string, tables []azlogs.Table) (Result, error) {
	if len(tables) == 0 {
		return Result{}, fmt.Errorf("%w: no table", ErrMalformed)
	}
	t := tables[0]
	idx := map[string]int{}
	for i, c := range t.Columns {
		if c.Name != nil {
			idx[*c.Name] = i
		}
	}
	for _, want := range []string{colRepository, colDigest, colLastPulledAt, colPullCount} {
		if _, ok := idx[want]; !ok {
			return Result{}, fmt.Errorf("%w: no column %s", ErrMalformed, want)
		}
	}
	res := Result{Pulls: make([]Pull, 0, len(t.Rows))}
	for n, row := range t.Rows {
		if len(row) != len(t.Columns) {
			return Result{}, fmt.Errorf("%w: row %d has %d cells for %d columns", ErrMalformed, n, len(row), len(t.Columns))
		}
		p, err := pullOf(row, idx)
		if err != nil {
			return Result{}, fmt.Errorf("row %d: %w", n, err)
		}
		if err := checkReference(registryHost, p.Repository, p.Digest); err != nil {
			res.RejectedCount++
			if len(res.Rejected) < maxRejectedListed {
				res.Rejected = append(res.Rejected, fmt.Sprintf("%q@%q: %v", p.Repository, p.Digest, err))
			}
			continue
		}
		res.Pulls = append(res.Pulls, p)
	}
	return res, nil
}

func pullOf(row azlogs.Row, idx map[string]int) (Pull, error) {
	var p Pull
	var err error
	if p.Repository, err = stringCell(row[idx[colRepository]]); err != nil {
		return p, fmt.Errorf("%s: %w", colRepository, err)
	}
	if p.Digest, err = stringCell(row[idx[colDigest]]); err != nil {
		return p, fmt.Errorf("%s: %w", colDigest, err)
	}
	at, err := stringCell(row[idx[colLastPulledAt]])
	if err == nil {
		p.LastPulledAt, err = time.Parse(time.RFC3339Nano, at)
	}
	if err != nil {
		return p, fmt.Errorf("%w: %s: %v", ErrMalformed, colLastPulledAt, err)
	}
	p.LastPulledAt = p.LastPulledAt.UTC()
	if p.Count, err = longCell(row[idx[colPullCount]]); err != nil {
		return p, fmt.Errorf("%s: %w", colPullCount, err)
	}
	return p, nil
}

func stringCell(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("%w: %T where a string belongs", ErrMalformed, v)
}

func longCell(v any) (int64, error) {
	switch v := v.(type) {
	case float64:
		if v < 0 || v != float64(int64(v)) {
			return 0, fmt.Errorf("%w: count %v", ErrMalformed, v)
		}
		return int64(v), nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: count %q", ErrMalformed, v)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%w: %T where a count belongs", ErrMalformed, v)
}

// checkReference accepts a repository and digest only if go-containerregistry's name
// package does (as every queue message must) and every path component is one the
// distribution spec allows (name alone lets "..", "a//b" and "-a" through): no
// traversal, upper case or empty segments, and a well-formed digest.
func checkReference(registryHost, repository, digest string) error {
	for _, c := range strings.Split(repository, "/") {
		if !pathComponent.MatchString(c) {
			return fmt.Errorf("repository path component %q is not [a-z0-9]+ joined by '.', '_', '__' or '-'", c)
		}
	}
	d, err := name.NewDigest(registryHost+"/"+repository+"@"+digest, name.StrictValidation)
	if err != nil {
		return err
	}
	if d.RepositoryStr() != repository || d.DigestStr() != digest {
		return fmt.Errorf("not a plain repository and digest")
	}
	return nil
}

// pathComponent is the distribution spec's repository path component.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
