package scanner

import (
	"context"
	"fmt"
	"slices"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// Statuses of a platform scan, as stored in the images table and printed by the
// CLI. Every status but StatusScanned counts for `tidewatch scan --exit-code`.
const (
	// StatusScanned: the packages found were matched; findings are complete for
	// the ecosystems loaded (Error notes any packages left unmatched).
	StatusScanned = "scanned"
	// StatusIncomplete: files an extractor wanted were skipped (Error and Skipped
	// list them); the findings reported are real but may not be all.
	StatusIncomplete = "incomplete"
	// StatusUnsupported: no package could be matched: the OS has no advisory
	// source and no application package was matched (Error says which).
	StatusUnsupported = "unsupported"
	// StatusFailed: the platform could not be scanned at all.
	StatusFailed = "failed"
)

// Scanner scans resolved images. It is safe for concurrent use when its layer cache
// and advisories are.
type Scanner struct {
	advisories Advisories
	cache      inventory.LayerCache
	retry      func(ctx context.Context, op func(ctx context.Context) error) error
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

// Advisories gives the index of the advisory folders ("Debian", "Go") one
// platform's packages need. A scanner asks after inventory, so an image loads only
// the folders of its own ecosystems; folders the source does not serve may be left
// out of the index, and their packages are then reported as gaps.
type Advisories interface {
	Index(ctx context.Context, folders []string) (*advisory.Index, error)
}

// fixedIndex is Advisories answering every request with one loaded index.
type fixedIndex struct{ index *advisory.Index }

func (f fixedIndex) Index(context.Context, []string) (*advisory.Index, error) { return f.index, nil }

// New returns a Scanner matching against index. A nil index is an error: scanning
// without advisories would report every image clean.
func New(index *advisory.Index, opts ...Option) (*Scanner, error) {
	if index == nil {
		return nil, fmt.Errorf("creating scanner: %w", advisory.ErrNoAdvisories)
	}
	return NewOnDemand(fixedIndex{index}, opts...)
}

// NewOnDemand returns a Scanner that inventories each platform first and then asks
// adv for the index of the folders its packages need (see Folders).
func NewOnDemand(adv Advisories, opts ...Option) (*Scanner, error) {
	if adv == nil {
		return nil, fmt.Errorf("creating scanner: %w", advisory.ErrNoAdvisories)
	}
	s := &Scanner{advisories: adv, cache: inventory.NewMemoryCache()}
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
	// Skipped lists the index entries that were not scanned (artifacts such as
	// SBOMs, signatures and attestations), never null.
	Skipped []image.SkippedManifest `json:"skipped"`
}

// PlatformResult is the outcome for one platform manifest.
type PlatformResult struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	Status   string `json:"status"`
	// OS is the detected distribution, null when the image has no os-release.
	OS *inventory.OS `json:"os"`
	// AdvisorySource is the advisory folder the OS packages were matched against
	// ("Debian", "Alpine", "Azure Linux"), or NoAdvisorySource ("none") when the OS
	// has no OSV ecosystem, its folder is not loaded, or there is no os-release.
	AdvisorySource string `json:"advisorySource"`
	// Packages counts the inventoried packages per ecosystem ("Debian:12", "Go");
	// packages with no advisory ecosystem count under "none".
	Packages map[string]int `json:"packages"`
	// Unmatched lists the ecosystems whose packages were not matched, and why.
	Unmatched []match.EcosystemGap `json:"unmatched"`
	// Skipped lists the files that were wanted but not inventoried.
	Skipped []inventory.SkippedFile `json:"skipped"`
	// Error explains a status other than scanned, and notes packages a scanned
	// platform left unmatched.
	Error    string          `json:"error,omitempty"`
	Findings []match.Finding `json:"findings"`
	// Inventory is the merged inventory, kept for storage and rematching.
	Inventory *inventory.Inventory `json:"-"`
}

// Scan scans every platform of t. It fails as a whole on the first platform error, so
// callers never mistake a partial result for a complete one.
func (s *Scanner) Scan(ctx context.Context, t *image.Target) (*Result, error) {
	res := &Result{Image: t.Reference, IndexDigest: t.IndexDigest, Platforms: []PlatformResult{}, Skipped: skippedManifests(t)}
	for _, p := range t.Platforms {
		pr, err := s.scanPlatform(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("scanning %s (%s): %w", t.Reference, p.Platform, err)
		}
		res.Platforms = append(res.Platforms, pr)
	}
	return res, nil
}

// skippedManifests lists the index entries the resolution of t skipped, never nil.
func skippedManifests(t *image.Target) []image.SkippedManifest {
	return append([]image.SkippedManifest{}, t.Skipped...)
}

// scanPlatform inventories one platform image and matches every package in its
// own ecosystem; the status says how far the result can be trusted (see Status*).
func (s *Scanner) scanPlatform(ctx context.Context, p image.PlatformImage) (PlatformResult, error) {
	inv, err := s.inventory(ctx, p)
	if err != nil {
		return PlatformResult{Platform: p.Platform.String(), Digest: p.Digest}, err
	}
	idx, err := s.advisories.Index(ctx, Folders(inv.Packages))
	if err != nil {
		return PlatformResult{Platform: p.Platform.String(), Digest: p.Digest}, fmt.Errorf("loading advisories: %w", err)
	}
	if idx == nil {
		return PlatformResult{Platform: p.Platform.String(), Digest: p.Digest}, fmt.Errorf("loading advisories: %w", advisory.ErrNoAdvisories)
	}
	pr := Assess(idx, inv)
	pr.Platform, pr.Digest = p.Platform.String(), p.Digest
	return pr, nil
}

// Assess matches a merged inventory (fresh from a scan, or stored and decoded for a
// rematch) against index and judges the result: the one rule scan and rematch
// share. Platform and Digest are left for the caller.
func Assess(index *advisory.Index, inv *inventory.Inventory) PlatformResult {
	return assess(index, inv, match.MatchImage(index, inv.OS, inv.Packages))
}

// AssessWith is Assess with a Matcher, whose memo the inventories of one rematch
// page share.
func AssessWith(m *match.Matcher, inv *inventory.Inventory) PlatformResult {
	return assess(m.Index(), inv, m.MatchImage(inv.OS, inv.Packages))
}

// Folders lists, sorted and once each, the advisory folders packages need: the
// folder of each package's ecosystem ("Debian:12" → "Debian", "Go" → "Go").
// Packages without an ecosystem need none.
func Folders(pkgs []inventory.Package) []string {
	var out []string
	for _, p := range pkgs {
		if p.Ecosystem == "" {
			continue
		}
		if f := advisory.Folder(p.Ecosystem); !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
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
