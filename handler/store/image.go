package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Counts are an images row's severity counts and how many of those findings have a
// fix: always the counts of the row's active findings (package lifecycle keeps them so).
type Counts struct {
	Critical, High, Medium, Low, Unknown int
	FixableCount                         int
}

func (c Counts) set(e entity) {
	e.setInt32("Critical", c.Critical)
	e.setInt32("High", c.High)
	e.setInt32("Medium", c.Medium)
	e.setInt32("Low", c.Low)
	e.setInt32("Unknown", c.Unknown)
	e.setInt32("FixableCount", c.FixableCount)
}

// Image is one platform manifest of a repository and its latest scan: a row of the
// images table (PartitionKey "registry/repository", RowKey the platform digest).
type Image struct {
	Registry   string
	Repository string
	// Digest is the platform manifest digest (the RowKey).
	Digest string
	// Tags point at this digest (or at its index); stored as a comma list.
	Tags []string
	// IndexDigest is the image index the platform was resolved from, if any.
	IndexDigest string
	Platform    string
	OS          string
	OSVersion   string
	// AdvisorySource is the advisory folder the OS packages were matched against
	// (scanner.PlatformResult.AdvisorySource: "Debian", "Alpine"), "none" without one.
	AdvisorySource string

	PushedAt      time.Time
	LastPulledAt  time.Time
	LastScannedAt time.Time
	// Generation is the advisory index generation the findings were matched against.
	Generation string
	// LastMatchedAt is when the findings were last matched: by the scan that wrote
	// the row (then it equals LastScannedAt) or by a rematch of its stored inventory.
	LastMatchedAt time.Time

	Counts

	// Status is the latest completed scan's outcome (scanner.StatusScanned, …); Error
	// says why a platform is unsupported or failed.
	Status string
	Error  string
	// LastError and LastErrorAt record a scan that failed after this row's last good
	// result, which the row keeps.
	LastError   string
	LastErrorAt time.Time
	// InventoryRef is the blob reference returned by [Store.PutInventory].
	InventoryRef string
	// InventoryGzip is the inventory's gzipped JSON kept in the row (Edm.Binary column
	// InventoryGz) when it compresses to at most [MaxInlineInventory] bytes, so a
	// rematch reads it with the row instead of the blob; nil for a bigger inventory and
	// in rows written before the column existed (the blob is the store of record).
	// Only the rematch's reads ([Store.ListImagesAfter], [Store.ImagesOf]) fill it:
	// other reads leave the column out.
	InventoryGzip []byte
	// InventorySHA256 is the hex SHA-256 of the inventory JSON InventoryGzip holds, so
	// a torn or corrupt copy is detected ([Image.InlineInventory]) and never matched.
	InventorySHA256 string
	// Analyzer is the inventory's analyzer version (inventory.Analyzer when it was
	// written), so due-ness can tell a reusable inventory without reading the blob.
	Analyzer string
	// Packages is the scan health an operator reads: packages inventoried per
	// ecosystem, "Debian:12 97, Go 12" ("none" for packages with no advisory source).
	Packages string
	// Skipped lists what the scan passed over: index entries that are not images
	// (SBOMs, signatures, attestations) and files that could not be inventoried.
	Skipped string
}

func (img Image) entity() entity {
	e := newEntity(repoKey(img.Registry, img.Repository), EscapeKey(img.Digest))
	e.setString("Registry", img.Registry)
	e.setString("Repository", img.Repository)
	e.setString("Tags", strings.Join(img.Tags, ","))
	e.setString("IndexDigest", img.IndexDigest)
	e.setString("Platform", img.Platform)
	e.setString("Os", img.OS)
	e.setString("OsVersion", img.OSVersion)
	e.setString("AdvisorySource", img.AdvisorySource)
	e.setTime("PushedAt", img.PushedAt)
	e.setTime("LastPulledAt", img.LastPulledAt)
	e.setTime("LastScannedAt", img.LastScannedAt)
	e.setString("Generation", img.Generation)
	e.setTime("LastMatchedAt", img.LastMatchedAt)
	img.Counts.set(e)
	e.setString("Status", img.Status)
	e.setString("Error", img.Error)
	if img.LastError != "" {
		e.setString("LastError", img.LastError)
	}
	e.setTime("LastErrorAt", img.LastErrorAt)
	e.setString("InventoryRef", img.InventoryRef)
	if len(img.InventoryGzip) > 0 {
		e.setBinary(colInventoryGz, img.InventoryGzip)
		e.setString(colInventorySHA256, img.InventorySHA256)
	}
	e.setString("Analyzer", img.Analyzer)
	e.setString("Packages", img.Packages)
	e.setString("Skipped", img.Skipped)
	return e
}

func imageFromRow(r row) (Image, error) {
	digest, err := UnescapeKey(r.rowKey())
	if err != nil {
		return Image{}, err
	}
	return Image{
		Registry:       r.str("Registry"),
		Repository:     r.str("Repository"),
		Digest:         digest,
		Tags:           splitList(r.str("Tags")),
		IndexDigest:    r.str("IndexDigest"),
		Platform:       r.str("Platform"),
		OS:             r.str("Os"),
		OSVersion:      r.str("OsVersion"),
		AdvisorySource: r.str("AdvisorySource"),
		PushedAt:       r.time("PushedAt"),
		LastPulledAt:   r.time("LastPulledAt"),
		LastScannedAt:  r.time("LastScannedAt"),
		Generation:     r.str("Generation"),
		LastMatchedAt:  r.time("LastMatchedAt"),
		Counts: Counts{
			Critical: r.int("Critical"), High: r.int("High"), Medium: r.int("Medium"),
			Low: r.int("Low"), Unknown: r.int("Unknown"), FixableCount: r.int("FixableCount"),
		},
		Status:          r.str("Status"),
		Error:           r.str("Error"),
		LastError:       r.str("LastError"),
		LastErrorAt:     r.time("LastErrorAt"),
		InventoryRef:    r.str("InventoryRef"),
		InventoryGzip:   r.binary(colInventoryGz),
		InventorySHA256: r.str(colInventorySHA256),
		Analyzer:        r.str("Analyzer"),
		Packages:        r.str("Packages"),
		Skipped:         r.str("Skipped"),
	}, nil
}

// PutImage writes img, replacing the whole row: an img read without its inline
// inventory copy (any reader but the rematch's) writes a row without one, which is
// safe, since the blob is the store of record.
func (s *Store) PutImage(ctx context.Context, img Image) error {
	if err := upsert(ctx, s.images, img.entity(), aztables.UpdateModeReplace); err != nil {
		return fmt.Errorf("writing image %s/%s@%s: %w", img.Registry, img.Repository, img.Digest, err)
	}
	return nil
}

// GetImage reads one image row without its inline inventory copy (a query with a
// projection, still one transaction); ErrNotFound when absent.
func (s *Store) GetImage(ctx context.Context, registry, repository, digest string) (Image, error) {
	filter := "PartitionKey eq " + odataQuote(repoKey(registry, repository)) + " and RowKey eq " + odataQuote(EscapeKey(digest))
	rows, err := listRowsOpts(ctx, s.images, filter, imageColumnsWithoutInventory, 1)
	if err != nil {
		return Image{}, fmt.Errorf("reading image %s/%s@%s: %w", registry, repository, digest, err)
	}
	if len(rows) == 0 {
		return Image{}, fmt.Errorf("image %s/%s@%s: %w", registry, repository, digest, ErrNotFound)
	}
	return imageFromRow(rows[0])
}

// SetImageCounts sets the counts of an existing images row (merge; other columns are
// kept). A row that does not exist is not created.
func (s *Store) SetImageCounts(ctx context.Context, registry, repository, digest string, c Counts) error {
	e := newEntity(repoKey(registry, repository), EscapeKey(digest))
	c.set(e)
	body, err := e.marshal()
	if err != nil {
		return err
	}
	anyETag := azcore.ETagAny
	_, err = s.images.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{IfMatch: &anyETag, UpdateMode: aztables.UpdateModeMerge})
	if err != nil && !hasStatus(err, 404) {
		return fmt.Errorf("writing counts of image %s/%s@%s: %w", registry, repository, digest, err)
	}
	return nil
}

// SetImageTags sets the Tags column of existing images rows of one repository
// (digest → tags), merging in transactions of at most 100.
func (s *Store) SetImageTags(ctx context.Context, registry, repository string, tags map[string][]string) error {
	entities := make([]entity, 0, len(tags))
	for _, digest := range sortedKeys(tags) {
		e := newEntity(repoKey(registry, repository), EscapeKey(digest))
		e.setString("Tags", strings.Join(tags[digest], ","))
		entities = append(entities, e)
	}
	if err := submitBatches(ctx, s.images, entities, aztables.TransactionTypeUpdateMerge); err != nil {
		return fmt.Errorf("writing tags of %d images of %s/%s: %w", len(entities), registry, repository, err)
	}
	return nil
}

// SetImageError records a failed scan on existing images rows of one repository
// (LastError, LastErrorAt; merge), keeping their status, counts and findings.
func (s *Store) SetImageError(ctx context.Context, registry, repository string, digests []string, cause string, at time.Time) error {
	entities := make([]entity, 0, len(digests))
	for _, digest := range digests {
		e := newEntity(repoKey(registry, repository), EscapeKey(digest))
		e.setString("LastError", cause)
		e.setTime("LastErrorAt", at)
		entities = append(entities, e)
	}
	if err := submitBatches(ctx, s.images, entities, aztables.TransactionTypeUpdateMerge); err != nil {
		return fmt.Errorf("recording scan error on %d images of %s/%s: %w", len(entities), registry, repository, err)
	}
	return nil
}

// DeleteImage deletes one images row; a row already gone is not an error.
func (s *Store) DeleteImage(ctx context.Context, registry, repository, digest string) error {
	_, err := s.images.DeleteEntity(ctx, repoKey(registry, repository), EscapeKey(digest), nil)
	if err != nil && !hasStatus(err, 404) {
		return fmt.Errorf("deleting image %s/%s@%s: %w", registry, repository, digest, err)
	}
	return nil
}

// ImagesOf returns the images rows of digest in one repository: the row keyed by it
// (a single-platform manifest, or a failure row) and the rows of its platforms (an
// index). One query of the partition.
func (s *Store) ImagesOf(ctx context.Context, registry, repository, digest string) ([]Image, error) {
	return s.listImagesSelect(ctx, "PartitionKey eq "+odataQuote(repoKey(registry, repository))+
		" and (RowKey eq "+odataQuote(EscapeKey(digest))+" or IndexDigest eq "+odataQuote(digest)+")", "")
}

// ListImages returns every image of one repository, without the inline inventory
// copies (InventoryGzip is nil): listing a repository must not pay for them.
func (s *Store) ListImages(ctx context.Context, registry, repository string) ([]Image, error) {
	return s.listImagesSelect(ctx, "PartitionKey eq "+odataQuote(repoKey(registry, repository)), imageColumnsWithoutInventory)
}

// ListImagePartitions returns the distinct images PartitionKeys, the unit of a
// rematch task.
func (s *Store) ListImagePartitions(ctx context.Context) ([]string, error) {
	rows, err := listRows(ctx, s.images, "", "PartitionKey")
	if err != nil {
		return nil, fmt.Errorf("listing image partitions: %w", err)
	}
	var keys []string
	for _, r := range rows {
		if pk := r.partitionKey(); len(keys) == 0 || keys[len(keys)-1] != pk {
			keys = append(keys, pk) // results arrive sorted by PartitionKey
		}
	}
	return keys, nil
}

// ListImagesPage returns up to limit images of one PartitionKey (as carried by a
// rematch task) whose RowKey sorts after the continuation, and the continuation for
// the next page ("" when this was the last). Like [Store.ListImages] it leaves the
// inline inventory copies out.
func (s *Store) ListImagesPage(ctx context.Context, partitionKey, continuation string, limit int) ([]Image, string, error) {
	filter := "PartitionKey eq " + odataQuote(partitionKey)
	if continuation != "" {
		filter += " and RowKey gt " + odataQuote(continuation)
	}
	rows, err := listRowsOpts(ctx, s.images, filter, imageColumnsWithoutInventory, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("listing images of %s: %w", partitionKey, err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].rowKey()
	}
	images := make([]Image, 0, len(rows))
	for _, r := range rows {
		img, err := imageFromRow(r)
		if err != nil {
			return nil, "", fmt.Errorf("listing images of %s: %w", partitionKey, err)
		}
		images = append(images, img)
	}
	return images, next, nil
}

// ImageCursor is a position in the images table: the PartitionKey and RowKey of a
// row, as stored (escaped). The zero cursor is before the first row.
type ImageCursor struct {
	Partition, Row string
}

// ListImagesAfter returns up to limit images rows after cursor in key order
// (PartitionKey, then RowKey), across partitions, and the cursor of the last row
// returned; done reports that no row follows it. One bounded query (limit+1 rows):
// never a scan of the whole table for one page. Rows carry their inline inventory
// copies: this is the rematch's page.
func (s *Store) ListImagesAfter(ctx context.Context, after ImageCursor, limit int) (images []Image, last ImageCursor, done bool, err error) {
	if limit <= 0 {
		return nil, after, false, fmt.Errorf("listing images after %+v: limit %d is not positive", after, limit)
	}
	filter := ""
	if after != (ImageCursor{}) {
		pk, rk := odataQuote(after.Partition), odataQuote(after.Row)
		filter = "PartitionKey gt " + pk + " or (PartitionKey eq " + pk + " and RowKey gt " + rk + ")"
	}
	rows, err := listRowsLimit(ctx, s.images, filter, limit+1)
	if err != nil {
		return nil, after, false, fmt.Errorf("listing images after %+v: %w", after, err)
	}
	done = len(rows) <= limit
	rows = rows[:min(len(rows), limit)]
	last = after
	images = make([]Image, 0, len(rows))
	for _, r := range rows {
		img, err := imageFromRow(r)
		if err != nil {
			return nil, after, false, fmt.Errorf("listing images after %+v: %w", after, err)
		}
		images = append(images, img)
		last = ImageCursor{Partition: r.partitionKey(), Row: r.rowKey()}
	}
	return images, last, done, nil
}

func (s *Store) listImagesSelect(ctx context.Context, filter, sel string) ([]Image, error) {
	rows, err := listRows(ctx, s.images, filter, sel)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	images := make([]Image, 0, len(rows))
	for _, r := range rows {
		img, err := imageFromRow(r)
		if err != nil {
			return nil, fmt.Errorf("listing images: %w", err)
		}
		images = append(images, img)
	}
	return images, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// splitList parses a comma list column; empty means none.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
