package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Scan statuses of an [Image].
const (
	StatusScanned     = "scanned"
	StatusFailed      = "failed"
	StatusUnsupported = "unsupported"
)

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

	PushedAt      time.Time
	LastPulledAt  time.Time
	LastScannedAt time.Time
	// Generation is the advisory index generation the findings were matched against.
	Generation string

	Critical, High, Medium, Low, Unknown int
	FixableCount                         int

	// Status is StatusScanned, StatusFailed or StatusUnsupported; Error says why.
	Status string
	Error  string
	// InventoryRef is the blob reference returned by [Store.PutInventory].
	InventoryRef string
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
	e.setTime("PushedAt", img.PushedAt)
	e.setTime("LastPulledAt", img.LastPulledAt)
	e.setTime("LastScannedAt", img.LastScannedAt)
	e.setString("Generation", img.Generation)
	e.setInt32("Critical", img.Critical)
	e.setInt32("High", img.High)
	e.setInt32("Medium", img.Medium)
	e.setInt32("Low", img.Low)
	e.setInt32("Unknown", img.Unknown)
	e.setInt32("FixableCount", img.FixableCount)
	e.setString("Status", img.Status)
	e.setString("Error", img.Error)
	e.setString("InventoryRef", img.InventoryRef)
	return e
}

func imageFromRow(r row) (Image, error) {
	digest, err := UnescapeKey(r.rowKey())
	if err != nil {
		return Image{}, err
	}
	return Image{
		Registry:      r.str("Registry"),
		Repository:    r.str("Repository"),
		Digest:        digest,
		Tags:          splitList(r.str("Tags")),
		IndexDigest:   r.str("IndexDigest"),
		Platform:      r.str("Platform"),
		OS:            r.str("Os"),
		OSVersion:     r.str("OsVersion"),
		PushedAt:      r.time("PushedAt"),
		LastPulledAt:  r.time("LastPulledAt"),
		LastScannedAt: r.time("LastScannedAt"),
		Generation:    r.str("Generation"),
		Critical:      r.int("Critical"),
		High:          r.int("High"),
		Medium:        r.int("Medium"),
		Low:           r.int("Low"),
		Unknown:       r.int("Unknown"),
		FixableCount:  r.int("FixableCount"),
		Status:        r.str("Status"),
		Error:         r.str("Error"),
		InventoryRef:  r.str("InventoryRef"),
	}, nil
}

// PutImage writes img, replacing the whole row.
func (s *Store) PutImage(ctx context.Context, img Image) error {
	if err := upsert(ctx, s.images, img.entity(), aztables.UpdateModeReplace); err != nil {
		return fmt.Errorf("writing image %s/%s@%s: %w", img.Registry, img.Repository, img.Digest, err)
	}
	return nil
}

// GetImage reads one image row; ErrNotFound when absent.
func (s *Store) GetImage(ctx context.Context, registry, repository, digest string) (Image, error) {
	r, err := getRow(ctx, s.images, repoKey(registry, repository), EscapeKey(digest))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Image{}, fmt.Errorf("image %s/%s@%s: %w", registry, repository, digest, err)
		}
		return Image{}, fmt.Errorf("reading image %s/%s@%s: %w", registry, repository, digest, err)
	}
	return imageFromRow(r)
}

// ListImages returns every image of one repository.
func (s *Store) ListImages(ctx context.Context, registry, repository string) ([]Image, error) {
	return s.listImages(ctx, "PartitionKey eq "+odataQuote(repoKey(registry, repository)))
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
// the next page ("" when this was the last).
func (s *Store) ListImagesPage(ctx context.Context, partitionKey, continuation string, limit int) ([]Image, string, error) {
	filter := "PartitionKey eq " + odataQuote(partitionKey)
	if continuation != "" {
		filter += " and RowKey gt " + odataQuote(continuation)
	}
	rows, err := listRowsLimit(ctx, s.images, filter, limit+1)
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

func (s *Store) listImages(ctx context.Context, filter string) ([]Image, error) {
	rows, err := listRows(ctx, s.images, filter, "")
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

// splitList parses a comma list column; empty means none.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
