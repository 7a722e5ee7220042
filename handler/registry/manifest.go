package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Manifest is what a reference resolves to.
type Manifest struct {
	// Digest identifies the manifest or index.
	Digest v1.Hash
	// MediaType says whether it is an image manifest or an index.
	MediaType types.MediaType
	// Size is the manifest's length in bytes.
	Size int64
}

// Resolve returns the digest and media type that repo's tag or digest points at,
// with a HEAD request (which registries do not count as a pull), falling back to
// GET when the registry cannot answer HEAD usefully.
func (c *Client) Resolve(ctx context.Context, repo, tagOrDigest string) (Manifest, error) {
	ref, err := c.reference(repo + separator(tagOrDigest) + tagOrDigest)
	if err != nil {
		return Manifest{}, newError("resolve", c.qualify(repo+separator(tagOrDigest)+tagOrDigest), err)
	}
	var m Manifest
	err = Retry(ctx, c.retry, func(ctx context.Context) error {
		puller, err := c.pullerFor(ctx)
		if err != nil {
			return err
		}
		desc, err := puller.Head(ctx, ref)
		if err != nil && headUnusable(err) {
			var full *remote.Descriptor
			full, err = puller.Get(ctx, ref)
			if err == nil {
				desc = &full.Descriptor
			}
		}
		if err != nil {
			return err
		}
		m = Manifest{Digest: desc.Digest, MediaType: desc.MediaType, Size: desc.Size}
		return nil
	})
	return m, newError("resolve", ref.String(), err)
}

// fetch GETs the manifest or index ref points at ("repo:tag", "repo@sha256:…", with
// or without this registry's host in front). The returned descriptor reads child
// manifests and blobs lazily with ctx.
func (c *Client) fetch(ctx context.Context, ref string) (*remote.Descriptor, error) {
	r, err := c.reference(ref)
	if err != nil {
		return nil, newError("fetch", ref, err)
	}
	var desc *remote.Descriptor
	err = Retry(ctx, c.retry, func(ctx context.Context) error {
		puller, err := c.pullerFor(ctx)
		if err != nil {
			return err
		}
		desc, err = puller.Get(ctx, r)
		return err
	})
	return desc, newError("fetch", r.String(), err)
}

// reference parses ref relative to this registry; a leading "host/" is accepted.
func (c *Client) reference(ref string) (name.Reference, error) {
	return name.ParseReference(c.qualify(ref), c.nameOpts...)
}

// qualify puts this registry's host in front of ref unless it is already there.
func (c *Client) qualify(ref string) string {
	return c.Host() + "/" + strings.TrimPrefix(ref, c.Host()+"/")
}

// separator joins a repository and a tag (":") or a digest ("@").
func separator(tagOrDigest string) string {
	if strings.Contains(tagOrDigest, ":") {
		return "@"
	}
	return ":"
}

// headUnusable reports a HEAD failure that GET may not share: the registry does not
// implement HEAD for manifests, or left out the headers HEAD is good for. Auth
// failures, unknown names and transient faults would fail the GET too.
func headUnusable(err error) bool {
	if IsTransient(err) {
		return false
	}
	switch statusOf(err) {
	case 0, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return !errors.Is(err, context.Canceled)
	}
	return false
}
