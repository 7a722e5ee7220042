package scanner

import (
	"context"
	"errors"
	"fmt"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// Statuses of a platform scan, as stored in the images table.
const (
	StatusScanned     = "scanned"
	StatusUnsupported = "unsupported"
	StatusFailed      = "failed"
)

// Scanner scans resolved images. It is safe for concurrent use when its layer cache is.
type Scanner struct {
	index *advisory.Index
	cache inventory.LayerCache
	retry func(ctx context.Context, op func(ctx context.Context) error) error
}

// Option configures a Scanner.
type Option func(*Scanner)

// WithLayerCache reuses per-layer results across images and runs.
func WithLayerCache(c inventory.LayerCache) Option {
	return func(s *Scanner) { s.cache = c }
}

// WithRetry wraps each layer's fetch-and-analyze in retry (e.g. registry.Retry with a
// policy), so a blob stream broken mid-way is fetched again from the start.
func WithRetry(retry func(ctx context.Context, op func(ctx context.Context) error) error) Option {
	return func(s *Scanner) { s.retry = retry }
}

// New returns a Scanner matching against index. A nil index is an error: scanning
// without advisories would report every image clean.
func New(index *advisory.Index, opts ...Option) (*Scanner, error) {
	if index == nil {
		return nil, fmt.Errorf("creating scanner: %w", advisory.ErrNoAdvisories)
	}
	s := &Scanner{index: index, cache: inventory.NewMemoryCache()}
	for _, o := range opts {
		o(s)
	}
	if s.retry == nil {
		s.retry = func(ctx context.Context, op func(ctx context.Context) error) error { return op(ctx) }
	}
	return s, nil
}

// Result is the outcome of scanning one reference: every platform it resolves to.
type Result struct {
	Image       string           `json:"image"`
	IndexDigest string           `json:"indexDigest,omitempty"`
	Platforms   []PlatformResult `json:"platforms"`
}

// PlatformResult is the outcome for one platform manifest.
type PlatformResult struct {
	Platform  string        `json:"platform"`
	Digest    string        `json:"digest"`
	Status    string        `json:"status"`
	OS        *inventory.OS `json:"os"`
	Ecosystem string        `json:"ecosystem"`
	// Error explains an unsupported or failed platform.
	Error    string          `json:"error,omitempty"`
	Findings []match.Finding `json:"findings"`
	// Inventory is the merged inventory, kept for storage and rematching.
	Inventory *inventory.Inventory `json:"-"`
}

// Scan scans every platform of t. It fails as a whole on the first platform error, so
// callers never mistake a partial result for a complete one.
func (s *Scanner) Scan(ctx context.Context, t *image.Target) (*Result, error) {
	res := &Result{Image: t.Reference, IndexDigest: t.IndexDigest}
	for _, p := range t.Platforms {
		pr, err := s.ScanPlatform(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("scanning %s (%s): %w", t.Reference, p.Platform, err)
		}
		res.Platforms = append(res.Platforms, pr)
	}
	return res, nil
}

// ScanPlatform inventories one platform image and matches it. An image whose distro
// has no advisory ecosystem is StatusUnsupported with the reason in Error, never clean.
func (s *Scanner) ScanPlatform(ctx context.Context, p image.PlatformImage) (PlatformResult, error) {
	pr := PlatformResult{Platform: p.Platform.String(), Digest: p.Digest, Findings: []match.Finding{}}
	inv, err := s.inventory(ctx, p)
	if err != nil {
		return pr, err
	}
	pr.Inventory, pr.OS = inv, inv.OS
	if inv.OS == nil || inv.OS.Ecosystem == "" {
		pr.Status = StatusUnsupported
		pr.Error = unsupportedReason(inv)
		return pr, nil
	}
	pr.Ecosystem = inv.OS.Ecosystem
	findings, err := match.Match(s.index, pr.Ecosystem, inv.Packages)
	if errors.Is(err, match.ErrEcosystemNotLoaded) {
		pr.Status = StatusUnsupported
		pr.Error = err.Error()
		return pr, nil
	}
	if err != nil {
		return pr, fmt.Errorf("matching %s packages: %w", pr.Ecosystem, err)
	}
	pr.Status = StatusScanned
	pr.Findings = findings
	return pr, nil
}

func unsupportedReason(inv *inventory.Inventory) string {
	if inv.OS == nil || inv.OS.ID == "" {
		return fmt.Sprintf("no os-release found: OS packages not matched (%d dpkg packages inventoried)", len(inv.Packages))
	}
	return fmt.Sprintf("distribution %s %s is not supported yet: its OS packages were not matched", inv.OS.ID, inv.OS.VersionID)
}

// inventory builds the merged inventory, analyzing each layer at most once per
// analyzer version and verified layer digest (cache) and retrying a layer's whole
// stream on transient errors.
func (s *Scanner) inventory(ctx context.Context, p image.PlatformImage) (*inventory.Inventory, error) {
	inv, err := inventory.Scan(ctx, p, s.cache, inventory.WithRetry(s.retry))
	if err != nil {
		return nil, fmt.Errorf("inventorying: %w", err)
	}
	return inv, nil
}
