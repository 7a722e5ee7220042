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
	var all []string
	err := c.RepositoryPages(ctx, func(_ context.Context, repos []string) error {
		all = append(all, repos...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// RepositoryPages calls page with each _catalog page, in order, as it arrives, and
// asks for the next page only once page returned: a caller can act on the first
// repositories while a registry that walks its storage per page (docker-registry)
// is still walking. Each page is retried on its own, as in Repositories; page is
// called once per page, never for a failed attempt. An error from page stops the
// listing and is returned wrapped.
func (c *Client) RepositoryPages(ctx context.Context, page func(ctx context.Context, repos []string) error) error {
	first := c.listURL("/v2/_catalog")
	var wire struct {
		Repositories []string `json:"repositories"`
	}
	err := eachPage(ctx, c, c.reg.Scope(transport.PullScope), first, false, func(body []byte) ([]string, error) {
		wire.Repositories = nil
		err := json.Unmarshal(body, &wire)
		return wire.Repositories, err
	}, page)
	return newError("list repositories", c.Host(), err)
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
// decode and concatenating the results (see eachPage).
func paginate[T any](ctx context.Context, c *Client, scope, first string, reuse bool, decode func([]byte) ([]T, error)) ([]T, error) {
	var all []T
	err := eachPage(ctx, c, scope, first, reuse, decode, func(_ context.Context, items []T) error {
		all = append(all, items...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// eachPage GETs first and every rel="next" page after it, decoding each body with
// decode and handing its items to each before the next page is asked for. Each page
// is retried on its own; each is called outside the retry, once per page, and its
// error stops the walk. The authenticated transport (for token registries, a token
// for scope; the Client pings only once) is set up once per listing.
//
// With reuse, the authenticated client is kept per scope for the Client's next
// listing with the same scope (see authCache).
func eachPage[T any](ctx context.Context, c *Client, scope, first string, reuse bool, decode func([]byte) ([]T, error), each func(context.Context, []T) error) error {
	var (
		httpClient *http.Client
		seen       = map[string]bool{}
	)
	for next, n := first, 1; next != ""; n++ {
		if seen[next] {
			return fmt.Errorf("pagination loops back to %s", next)
		}
		seen[next] = true
		var (
			items []T
			link  string
		)
		err := Retry(ctx, c.retry, func(ctx context.Context) error {
			if httpClient == nil {
				var err error
				if httpClient, err = c.authenticated(ctx, scope, reuse); err != nil {
					return fmt.Errorf("authenticating: %w", err)
				}
			}
			var err error
			items, link, err = getPage(ctx, c, httpClient, next, decode)
			return err
		})
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := each(ctx, items); err != nil {
			return fmt.Errorf("handling page %d: %w", n, err)
		}
		next = link
	}
	return nil
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
