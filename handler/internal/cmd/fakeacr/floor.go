package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// floor measures what listing an ACR costs at the least, as a client of the running
// fake at host (its own code, not Tidewatch's): /acr/v1/_catalog (paged), then
// concurrently per repository either one /_manifests listing (what a first sweep must
// read: tags, digests and times together) or one attributes read (what a sweep of an
// unchanged registry must read). One access token covers every scope, so token
// requests do not count against the floor.
func floor(ctx context.Context, host, aadToken string, concurrency int, stdout io.Writer) error {
	c := &http.Client{Timeout: time.Minute}
	start := time.Now()
	refresh, err := postForm(ctx, c, host, "/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {host}, "access_token": {aadToken}}, "refresh_token")
	if err != nil {
		return err
	}
	catalogToken, err := postForm(ctx, c, host, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {host},
		"refresh_token": {refresh}, "scope": {"registry:catalog:*"}}, "access_token")
	if err != nil {
		return err
	}
	var repos []string
	next := "/acr/v1/_catalog?n=1000"
	for next != "" {
		var page struct {
			Repositories []string `json:"repositories"`
		}
		if next, err = get(ctx, c, host, next, catalogToken, &page); err != nil {
			return err
		}
		repos = append(repos, page.Repositories...)
	}
	scopes := make([]string, len(repos))
	for i, r := range repos {
		scopes[i] = "repository:" + r + ":metadata_read"
	}
	token, err := postForm(ctx, c, host, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {host},
		"refresh_token": {refresh}, "scope": scopes}, "access_token")
	if err != nil {
		return err
	}
	setup := time.Since(start)
	for _, pass := range []struct{ name, suffix string }{
		{"manifests", "/_manifests?orderby=timedesc&n=1000"}, {"attributes", ""},
	} {
		t0 := time.Now()
		var requests, items atomic.Int64
		err := forEach(repos, concurrency, func(repo string) error {
			next := "/acr/v1/" + repo + pass.suffix
			for next != "" {
				var page struct {
					Manifests []json.RawMessage `json:"manifests"`
				}
				var err error
				if next, err = get(ctx, c, host, next, token, &page); err != nil {
					return err
				}
				requests.Add(1)
				items.Add(int64(len(page.Manifests)))
			}
			return nil
		})
		if err != nil {
			return err
		}
		// The catalog is part of either floor; it was timed with the setup.
		fmt.Fprintf(stdout, "acr floor %s: repos=%d requests=%d manifests=%d elapsed=%.2fs (catalog and tokens %.2fs)\n",
			pass.name, len(repos), requests.Load()+1, items.Load(), (time.Since(t0) + setup).Seconds(), setup.Seconds())
	}
	return nil
}

func forEach(items []string, concurrency int, do func(string) error) error {
	work := make(chan string)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range max(concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				if err := do(it); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	return first
}

func postForm(ctx context.Context, c *http.Client, host, path string, form url.Values, field string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+path, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var body map[string]string
	if _, err := do(c, req, &body); err != nil {
		return "", err
	}
	if body[field] == "" {
		return "", fmt.Errorf("POST %s: no %s in the answer", path, field)
	}
	return body[field], nil
}

// get reads pathQuery into v and returns the Link header's next page ("" at the end).
func get(ctx context.Context, c *http.Client, host, pathQuery, token string, v any) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+pathQuery, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := do(c, req, v)
	if err != nil {
		return "", err
	}
	link := resp.Header.Get("Link")
	if link == "" {
		return "", nil
	}
	next, _, _ := strings.Cut(strings.TrimPrefix(link, "<"), ">")
	return next, nil
}

func do(c *http.Client, req *http.Request, v any) (*http.Response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %d: %.200s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	return resp, nil
}
