package registry

import (
	"context"
	"net"
	"strings"

	"github.com/tidewatch/tidewatch/handler/image"
)

// Target fetches ref and resolves it to every platform it holds: an index yields
// each platform image (artifacts, attestations and unknown platforms are listed in
// Target.Skipped), a single manifest yields itself. Every fetch — the manifest, each
// child manifest, each image config — runs under the client's retry policy; layer
// blobs are left to the caller (see the package doc).
func (c *Client) Target(ctx context.Context, ref string) (*image.Target, error) {
	desc, err := c.fetch(ctx, ref)
	if err != nil {
		return nil, err
	}
	qualified := c.qualify(ref)
	retry := func(op func() error) error {
		return c.Retry(ctx, func(context.Context) error { return op() })
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, newError("fetch index", qualified, err)
		}
		t, err := image.FromIndex(qualified, idx, image.WithRetry(retry))
		return t, newError("resolve platforms", qualified, err)
	}
	var t *image.Target
	err = retry(func() error {
		img, err := desc.Image()
		if err != nil {
			return err
		}
		t, err = image.FromImage(qualified, img)
		return err
	})
	return t, newError("resolve image", qualified, err)
}

// Retry runs op under this client's retry policy; its signature fits
// scanner.WithRetry, so a layer stream broken mid-way is fetched again.
func (c *Client) Retry(ctx context.Context, op func(ctx context.Context) error) error {
	return Retry(ctx, c.retry, op)
}

// IsLoopback reports whether host (with or without a port) is a loopback address or
// localhost: registries there are reached over plain HTTP.
func IsLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
