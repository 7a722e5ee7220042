package fakeacr

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// catalog serves GET /acr/v1/_catalog: names after last, at most n, and a Link to
// the next page when more remain.
func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	names, err := s.source.Repositories()
	if err != nil {
		acrError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	page, next := pageOf(names, r, func(s string) string { return s })
	if next != "" {
		setNextLink(w, "/acr/v1/_catalog", next, r)
	}
	writeJSONBody(w, map[string][]string{"repositories": page})
}

// repository serves GET /acr/v1/{name} (RepositoryAttributes), times at ACR's
// 100 ns precision.
func (s *Server) repository(w http.ResponseWriter, repo string) {
	a, ok, err := s.source.Attributes(repo)
	if lookupFailed(w, ok, err) {
		return
	}
	writeJSONBody(w, map[string]any{
		"registry": s.Host, "imageName": repo,
		"createdTime": wireTime(a.Created), "lastUpdateTime": wireTime(a.Updated),
		"manifestCount": a.ManifestCount, "tagCount": a.TagCount,
		"changeableAttributes": map[string]bool{"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true},
	})
}

// manifests serves GET /acr/v1/{name}/_manifests (AcrManifests), ordered by
// orderby (timedesc, timeasc, else by digest), paged by n and last.
func (s *Server) manifests(w http.ResponseWriter, r *http.Request, repo string) {
	all, ok, err := s.source.Manifests(repo)
	if lookupFailed(w, ok, err) {
		return
	}
	order := r.URL.Query().Get("orderby")
	sort.Slice(all, func(i, j int) bool {
		ti, tj := latest(all[i].CreatedTime, all[i].LastUpdateTime), latest(all[j].CreatedTime, all[j].LastUpdateTime)
		switch order {
		case "timedesc":
			if !ti.Equal(tj) {
				return ti.After(tj)
			}
		case "timeasc":
			if !ti.Equal(tj) {
				return ti.Before(tj)
			}
		}
		return all[i].Digest < all[j].Digest
	})
	page, next := pageOf(all, r, func(m Manifest) string { return m.Digest })
	if next != "" {
		setNextLink(w, "/acr/v1/"+repo+"/_manifests", next, r)
	}
	entries := make([]json.RawMessage, 0, len(page))
	for _, m := range page {
		if m.Raw != nil {
			entries = append(entries, m.Raw)
			continue
		}
		m.CreatedTime, m.LastUpdateTime = wireTime(m.CreatedTime), wireTime(m.LastUpdateTime)
		b, _ := json.Marshal(m)
		entries = append(entries, b)
	}
	writeJSONBody(w, map[string]any{"registry": s.Host, "imageName": repo, "manifests": entries})
}

// wireTime is t as ACR writes times: UTC, to 100 ns ("2018-09-06T06:17:20.9983915Z").
func wireTime(t time.Time) time.Time { return t.UTC().Truncate(100 * time.Nanosecond) }

// pageOf returns the items after the query's last (by key, in the order given) and at
// most n of them, and the key to continue after when more remain.
func pageOf[T any](items []T, r *http.Request, key func(T) string) ([]T, string) {
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		for i, it := range items {
			if key(it) == last {
				items = items[i+1:]
				break
			}
		}
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n <= 0 || n >= len(items) {
		return items, ""
	}
	return items[:n], key(items[n-1])
}

// setNextLink sets the Link header ACR sends: a relative URL with last, n and orderby.
func setNextLink(w http.ResponseWriter, path, last string, r *http.Request) {
	q := url.Values{"last": {last}, "n": {r.URL.Query().Get("n")}}
	if o := r.URL.Query().Get("orderby"); o != "" {
		q.Set("orderby", o)
	}
	w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, path, q.Encode()))
}

// lookupFailed answers a failed repository lookup of the source as ACR does (500
// UNKNOWN for an error, 404 NAME_UNKNOWN for a repository it does not have) and
// reports whether it answered.
func lookupFailed(w http.ResponseWriter, ok bool, err error) bool {
	switch {
	case err != nil:
		acrError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
	case !ok:
		acrError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
	default:
		return false
	}
	return true
}
