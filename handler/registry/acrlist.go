package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ACR's own data-plane API (/acr/v1, api-version 2021-07-01), which only Azure
// Container Registry serves: one paged call lists a repository's manifests with their
// tags, times and platforms, and a repository's attributes say when anything in it
// last changed. Other registries are listed with the distribution API (list.go).

// ACR token scopes: the catalog needs registry:catalog:*; a repository's metadata
// (attributes, manifest list) needs metadata_read on it (pull does not include it).
const (
	acrCatalogScope = "registry:catalog:*"
	acrMetadataRead = "metadata_read"
)

// ACRRepository is a repository's attributes (GET /acr/v1/{name}).
type ACRRepository struct {
	// Name is the repository ("team/api").
	Name string
	// CreatedTime is when the repository was created.
	CreatedTime time.Time
	// LastUpdateTime is when anything in the repository (a push, an import, a tag
	// or manifest change, a delete) last changed it.
	LastUpdateTime time.Time
	// ManifestCount and TagCount are the repository's counts.
	ManifestCount, TagCount int
}

// ACRManifest is one manifest of a repository as /acr/v1/{name}/_manifests lists it.
type ACRManifest struct {
	// Digest identifies the manifest or index.
	Digest string
	// MediaType is the manifest's media type ("" when ACR does not say).
	MediaType string
	// CreatedTime is when the manifest first reached the repository (push or import).
	CreatedTime time.Time
	// LastUpdateTime is when it last changed (pushed again, re-imported, retagged).
	LastUpdateTime time.Time
	// Tags are the tags that point at it now (none: untagged).
	Tags []string
	// Architecture and OS are the platform of an image manifest ("" for an index).
	Architecture, OS string
	// References are an index's child manifests with their platforms.
	References []ACRPlatform
}

// PushedAt is when the manifest was last pushed or imported: the later of its
// created and last-update times (an import keeps an old createdTime elsewhere, but
// here its lastUpdateTime is the import).
func (m ACRManifest) PushedAt() time.Time {
	if m.LastUpdateTime.After(m.CreatedTime) {
		return m.LastUpdateTime
	}
	return m.CreatedTime
}

// ACRPlatform is one child manifest of an index.
type ACRPlatform struct {
	Digest       string
	Architecture string
	OS           string
}

// ACRRepositories lists every repository with GET /acr/v1/_catalog (scope
// registry:catalog:*), following Link pagination.
func (c *Client) ACRRepositories(ctx context.Context) ([]string, error) {
	first := c.listURL("/acr/v1/_catalog")
	repos, err := paginate(ctx, c, acrCatalogScope, first, true, func(body []byte) ([]string, error) {
		var page struct {
			Repositories []string `json:"repositories"`
		}
		err := json.Unmarshal(body, &page)
		return page.Repositories, err
	})
	return repos, newError("list ACR repositories", c.Host(), err)
}

// ACRRepositoryAttributes reads repo's attributes with GET /acr/v1/{name} (scope
// repository:{name}:metadata_read).
func (c *Client) ACRRepositoryAttributes(ctx context.Context, repo string) (ACRRepository, error) {
	r, err := c.repository(repo)
	if err != nil {
		return ACRRepository{}, newError("read ACR repository", c.qualify(repo), err)
	}
	u := url.URL{Scheme: c.reg.Scheme(), Host: c.reg.RegistryStr(), Path: "/acr/v1/" + r.RepositoryStr()}
	attrs, err := paginate(ctx, c, r.Scope(acrMetadataRead), u.String(), true, func(body []byte) ([]ACRRepository, error) {
		var wire struct {
			ImageName      string    `json:"imageName"`
			CreatedTime    time.Time `json:"createdTime"`
			LastUpdateTime time.Time `json:"lastUpdateTime"`
			ManifestCount  int       `json:"manifestCount"`
			TagCount       int       `json:"tagCount"`
		}
		if err := json.Unmarshal(body, &wire); err != nil {
			return nil, err
		}
		if wire.LastUpdateTime.IsZero() {
			return nil, errors.New("no lastUpdateTime")
		}
		return []ACRRepository{{Name: r.RepositoryStr(), CreatedTime: wire.CreatedTime, LastUpdateTime: wire.LastUpdateTime,
			ManifestCount: wire.ManifestCount, TagCount: wire.TagCount}}, nil
	})
	if err == nil && len(attrs) != 1 {
		err = errors.New("no repository attributes in the response")
	}
	if err != nil {
		return ACRRepository{}, newError("read ACR repository", r.String(), err)
	}
	return attrs[0], nil
}

// ACRManifests lists every manifest of repo, newest first, with
// GET /acr/v1/{name}/_manifests?orderby=timedesc (scope
// repository:{name}:metadata_read), following Link pagination. A manifest whose
// digest is not a digest, or that has no times, fails the listing: it is the
// registry's answer that is wrong.
func (c *Client) ACRManifests(ctx context.Context, repo string) ([]ACRManifest, error) {
	r, err := c.repository(repo)
	if err != nil {
		return nil, newError("list ACR manifests", c.qualify(repo), err)
	}
	first := c.listURLWith("/acr/v1/"+r.RepositoryStr()+"/_manifests", url.Values{"orderby": {"timedesc"}})
	ms, err := paginate(ctx, c, r.Scope(acrMetadataRead), first, true, decodeACRManifests)
	return ms, newError("list ACR manifests", r.String(), err)
}

// acrManifestWire is ManifestAttributesBase of the swagger.
type acrManifestWire struct {
	Digest         string    `json:"digest"`
	MediaType      string    `json:"mediaType"`
	CreatedTime    time.Time `json:"createdTime"`
	LastUpdateTime time.Time `json:"lastUpdateTime"`
	Architecture   *string   `json:"architecture"`
	OS             *string   `json:"os"`
	Tags           []string  `json:"tags"`
	References     []struct {
		Digest       string `json:"digest"`
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	} `json:"references"`
}

// decodeACRManifests decodes one AcrManifests page and checks every entry.
func decodeACRManifests(body []byte) ([]ACRManifest, error) {
	var page struct {
		Manifests []acrManifestWire `json:"manifests"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, err
	}
	out := make([]ACRManifest, 0, len(page.Manifests))
	for _, w := range page.Manifests {
		m, err := w.manifest()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (w acrManifestWire) manifest() (ACRManifest, error) {
	if _, err := v1.NewHash(w.Digest); err != nil {
		return ACRManifest{}, fmt.Errorf("manifest %q: %w", w.Digest, err)
	}
	if w.CreatedTime.IsZero() && w.LastUpdateTime.IsZero() {
		return ACRManifest{}, fmt.Errorf("manifest %s: no createdTime or lastUpdateTime", w.Digest)
	}
	for _, tag := range w.Tags {
		if _, err := name.NewTag("example.invalid/repo:"+tag, name.StrictValidation); err != nil {
			return ACRManifest{}, fmt.Errorf("manifest %s: tag %q: %w", w.Digest, tag, err)
		}
	}
	m := ACRManifest{Digest: w.Digest, MediaType: w.MediaType, CreatedTime: w.CreatedTime,
		LastUpdateTime: w.LastUpdateTime, Tags: w.Tags, Architecture: deref(w.Architecture), OS: deref(w.OS)}
	for _, ref := range w.References {
		if _, err := v1.NewHash(ref.Digest); err != nil {
			return ACRManifest{}, fmt.Errorf("manifest %s: reference %q: %w", w.Digest, ref.Digest, err)
		}
		m.References = append(m.References, ACRPlatform(ref))
	}
	return m, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// repository parses repo as a repository of this registry. Path segments "." and
// "..", which go-containerregistry's name package lets through, are refused: the
// name goes into a URL path.
func (c *Client) repository(repo string) (name.Repository, error) {
	for _, segment := range strings.Split(repo, "/") {
		if segment == "." || segment == ".." || segment == "" {
			return name.Repository{}, fmt.Errorf("repository %q: empty, . or .. path segment", repo)
		}
	}
	return name.NewRepository(c.Host()+"/"+repo, append([]name.Option{name.StrictValidation}, c.nameOpts...)...)
}
