package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// maxListPageBytes bounds one listing page; 1000 names of 255 bytes fit many times.
const maxListPageBytes = 16 << 20

// Repositories lists every repository in the registry, following _catalog's Link
// pagination. Each page is retried on its own, so a fault late in a long listing
// does not restart it.
func (c *Client) Repositories(ctx context.Context) ([]string, error) {
	first := c.listURL("/v2/_catalog")
	var page struct {
		Repositories []string `json:"repositories"`
	}
	repos, err := paginate(ctx, c, c.reg.Scope(transport.PullScope), first, false, func(body []byte) ([]string, error) {
		page.Repositories = nil
		err := json.Unmarshal(body, &page)
		return page.Repositories, err
	})
	return repos, newError("list repositories", c.Host(), err)
}

// Tags lists every tag of repo (e.g. "team/api"), following Link pagination when the
// registry paginates (docker-registry 2.x ignores n and returns everything at once).
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	ref := c.Host() + "/" + repo
	r, err := name.NewRepository(ref, c.nameOpts...)
	if err != nil {
		return nil, newError("list tags", ref, err)
	}
	first := c.listURL("/v2/" + r.RepositoryStr() + "/tags/list")
	var page struct {
		Tags []string `json:"tags"`
	}
	tags, err := paginate(ctx, c, r.Scope(transport.PullScope), first, false, func(body []byte) ([]string, error) {
		page.Tags = nil
		err := json.Unmarshal(body, &page)
		return page.Tags, err
	})
	return tags, newError("list tags", ref, err)
}

func (c *Client) listURL(path string) string {
	return c.listURLWith(path, nil)
}

// listURLWith is listURL with extra query parameters.
func (c *Client) listURLWith(path string, query url.Values) string {
	q := url.Values{"n": {strconv.Itoa(c.pageSize)}}
	for k, v := range query {
		q[k] = v
	}
	u := url.URL{Scheme: c.reg.Scheme(), Host: c.reg.RegistryStr(), Path: path, RawQuery: q.Encode()}
	return u.String()
}

// paginate GETs first and every rel="next" page after it, decoding each body with
// decode and concatenating the results. The authenticated transport (for token
// registries, a token for scope; the Client pings only once) is set up once per
// listing.
//
// With reuse, the authenticated client is kept per scope for the Client's next
// listing with the same scope (see authCache).
func paginate[T any](ctx context.Context, c *Client, scope, first string, reuse bool, decode func([]byte) ([]T, error)) ([]T, error) {
	var (
		httpClient *http.Client
		all        []T
		seen       = map[string]bool{}
	)
	for next := first; next != ""; {
		if seen[next] {
			return nil, fmt.Errorf("pagination loops back to %s", next)
		}
		seen[next] = true
		err := Retry(ctx, c.retry, func(ctx context.Context) error {
			if httpClient == nil {
				var err error
				if httpClient, err = c.authenticated(ctx, scope, reuse); err != nil {
					return fmt.Errorf("authenticating: %w", err)
				}
			}
			items, link, err := getPage(ctx, c, httpClient, next, decode)
			if err != nil {
				return err
			}
			all = append(all, items...)
			next = link
			return nil
		})
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// getPage fetches one listing page and returns its items and the next page's URL
// ("" on the last page).
func getPage[T any](ctx context.Context, c *Client, httpClient *http.Client, pageURL string, decode func([]byte) ([]T, error)) ([]T, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pageURL, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxListPageBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", pageURL, err)
	}
	if len(body) > maxListPageBytes {
		return nil, "", fmt.Errorf("reading %s: page larger than %d bytes", pageURL, maxListPageBytes)
	}
	items, err := decode(body)
	if err != nil {
		return nil, "", fmt.Errorf("decoding %s: %w", pageURL, err)
	}
	next, err := nextPage(resp, c.reg)
	if err != nil {
		return nil, "", err
	}
	return items, next, nil
}
