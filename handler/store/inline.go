package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MaxInlineInventory bounds the gzipped inventory an images row keeps inline (one
// Edm.Binary property): under the Table service's 64 KiB per property, and small
// enough that the row's other columns still fit its 1 MiB entity limit.
const MaxInlineInventory = 60 << 10

// Images columns of the inline inventory copy.
const (
	colInventoryGz     = "InventoryGz"
	colInventorySHA256 = "InventorySha256"
)

// imageColumnsWithoutInventory selects every images column but the inline inventory
// copy: the projection of listings that do not rematch (store_test checks that it
// names every other column [Image.entity] writes).
var imageColumnsWithoutInventory = strings.Join([]string{
	"PartitionKey", "RowKey", "Registry", "Repository", "Tags", "IndexDigest", "Platform", "Os", "OsVersion",
	"AdvisorySource", "PushedAt", "LastPulledAt", "LastScannedAt", "Generation", "LastMatchedAt",
	"Critical", "High", "Medium", "Low", "Unknown", "FixableCount",
	"Status", "Error", "LastError", "LastErrorAt", "InventoryRef", "Analyzer", "Packages", "Skipped",
}, ",")

// SetInlineInventory keeps data (an inventory's JSON) gzipped in img, with its
// SHA-256, when it compresses to at most limit bytes (never more than
// [MaxInlineInventory]), and reports whether it did; a bigger inventory is kept only
// in its blob (img keeps no copy).
func (img *Image) SetInlineInventory(data []byte, limit int) (bool, error) {
	img.InventoryGzip, img.InventorySHA256 = nil, ""
	gz, err := gzipBytes(data)
	if err != nil {
		return false, fmt.Errorf("inlining inventory of %s: %w", img.Digest, err)
	}
	if len(gz) > min(limit, MaxInlineInventory) {
		return false, nil
	}
	sum := sha256.Sum256(data)
	img.InventoryGzip, img.InventorySHA256 = gz, hex.EncodeToString(sum[:])
	return true, nil
}

// ErrInlineInventoryCorrupt is a row's inline inventory copy that does not gunzip or
// does not match its SHA-256: the blob holds the inventory.
var ErrInlineInventoryCorrupt = errors.New("inline inventory copy is corrupt")

// InlineInventory returns the inventory JSON img keeps inline; ok is false when it
// keeps none (a big inventory, a row written before inline copies, a listing that
// left the column out). A copy without a checksum, that does not gunzip or that does
// not match its checksum is [ErrInlineInventoryCorrupt]: read the blob instead.
func (img Image) InlineInventory() (data []byte, ok bool, err error) {
	if len(img.InventoryGzip) == 0 {
		return nil, false, nil
	}
	want, err := hex.DecodeString(img.InventorySHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, false, fmt.Errorf("%w: %s has checksum %q", ErrInlineInventoryCorrupt, img.Digest, img.InventorySHA256)
	}
	data, err = gunzipLimited(bytes.NewReader(img.InventoryGzip))
	if err != nil {
		return nil, false, fmt.Errorf("%w: %s: %w", ErrInlineInventoryCorrupt, img.Digest, err)
	}
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:], want) {
		return nil, false, fmt.Errorf("%w: %s: SHA-256 %x, the row names %s", ErrInlineInventoryCorrupt, img.Digest, sum, img.InventorySHA256)
	}
	return data, true, nil
}
