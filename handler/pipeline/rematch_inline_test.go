package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// inventoryReads is how many inventory blob downloads counter saw.
func inventoryReads(counter *store.TransactionCounter) int64 {
	var n int64
	for k, c := range counter.Counts() {
		if k.Service == store.ServiceBlob && k.Method == "GET" && strings.HasPrefix(k.Resource, store.ContainerInventories) {
			n += c
		}
	}
	return n
}

// rowsWithCopies is the images rows of a harness's repositories as the rematch reads
// them (with inline copies), keyed by repository@digest.
func (h *harness) rowsWithCopies(t *testing.T, digests map[string]string) map[string]store.Image {
	t.Helper()
	out := map[string]store.Image{}
	for repo, digest := range digests {
		rows, err := h.store.ImagesOf(context.Background(), h.registry, repo, digest)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out[repo+"@"+r.Digest] = r
		}
	}
	return out
}

// otherInventoryCopy is the gzipped copy of img's inventory with all but its first
// package dropped: valid gzip, a decodable inventory with fewer findings, another
// checksum.
func otherInventoryCopy(t *testing.T, img store.Image) []byte {
	t.Helper()
	data, ok, err := img.InlineInventory()
	if err != nil || !ok {
		t.Fatalf("%s: inline copy %v, %v; want one", img.Digest, ok, err)
	}
	inv, err := inventory.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Packages) < 2 {
		t.Fatalf("%s has %d packages: dropping them changes nothing", img.Digest, len(inv.Packages))
	}
	inv.Packages = inv.Packages[:1]
	other, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var holder store.Image
	if ok, err := holder.SetInlineInventory(other, store.MaxInlineInventory); err != nil || !ok {
		t.Fatalf("inlining the other inventory: %v, %v", ok, err)
	}
	return holder.InventoryGzip
}

// TestARematchReadsInventoriesFromTheirRowsAndFallsBackToTheBlob scans the same
// images into two storages with advisories lacking one CVE: one keeps inventories
// inline in the images rows, the other (inline limit 1 byte: every inventory too big)
// only in blobs. Both are re-matched with the full advisories, then the inline
// copies are damaged (another inventory's copy under the row's checksum, a copy cut
// short, a copy removed as in rows written before inline copies) and both are
// re-matched with the first advisories again. Each round the rows and findings of
// the two storages are equal, and inventory blobs are read only for rows without a
// usable copy.
func TestARematchReadsInventoriesFromTheirRowsAndFallsBackToTheBlob(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	base, multi := loadSidecar(t, minbase), loadSidecar(t, multiarch)
	push(t, minbase, reg.Ref("r/min:1"))
	push(t, multiarch, reg.Ref("r/multi:1"))
	wantBase := expected(t, oracle, base, "linux/amd64")
	var gone [2]string
	for k := range wantBase {
		if gone == ([2]string{}) || k[0] < gone[0] {
			gone = k
		}
	}
	fewer := advisoriesWithout(t, gone[0])
	digests := map[string]string{"r/min": base.ManifestDigest, "r/multi": multi.IndexDigest}
	repositories := []string{"r/min", "r/multi"}
	const rows = 3 // r/min and the two platforms of r/multi

	inline := newHarness(t, reg.Host, withAdvisories(fewer))
	tooBig := pipeline.WithInlineInventoryLimit(1)
	blobOnly := newHarness(t, reg.Host, withAdvisories(fewer), withPipelineOptions(tooBig))
	for _, h := range []*harness{inline, blobOnly} {
		for repo, digest := range digests {
			if status := h.scan(t, repo, digest, "1"); status != okStatus {
				t.Fatalf("scan of %s: HTTP %d", repo, status)
			}
		}
	}
	t.Run("scans keep a verified copy of each inventory in its row, or none when it is too big", func(t *testing.T) {
		ctx := context.Background()
		for key, img := range inline.rowsWithCopies(t, digests) {
			data, ok, err := img.InlineInventory()
			if err != nil || !ok {
				t.Fatalf("%s: inline copy %v, %v; want one", key, ok, err)
			}
			blob, err := inline.store.GetInventory(ctx, img.InventoryRef)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, blob) {
				t.Errorf("%s: the inline copy differs from the blob of record", key)
			}
		}
		for key, img := range blobOnly.rowsWithCopies(t, digests) {
			if img.InventoryGzip != nil || img.InventorySHA256 != "" {
				t.Errorf("%s: a copy of %d bytes over the limit, want none", key, len(img.InventoryGzip))
			}
			if _, err := blobOnly.store.GetInventory(ctx, img.InventoryRef); err != nil {
				t.Errorf("%s: the oversized inventory's blob: %v", key, err)
			}
		}
	})

	// rematch re-matches both storages at the same time with advisories and returns
	// the inventory blobs each read.
	rematch := func(t *testing.T, advisories string, at time.Time) (inlineReads, blobReads int64) {
		t.Helper()
		inlineCount, blobCount := store.NewTransactionCounter(), store.NewTransactionCounter()
		r := newHarness(t, reg.Host, sharingStorageWith(inline), withAdvisories(advisories),
			withStoreOptions(store.WithTransactionCounter(inlineCount)), withPipelineOptions(pipeline.WithRematchPageSize(2)))
		b := newHarness(t, reg.Host, sharingStorageWith(blobOnly), withAdvisories(advisories),
			withStoreOptions(store.WithTransactionCounter(blobCount)), withPipelineOptions(pipeline.WithRematchPageSize(2), tooBig))
		r.clock.Set(at)
		b.clock.Set(at)
		r.rematchAll(t, "inline")
		b.rematchAll(t, "inline")
		return inventoryReads(inlineCount), inventoryReads(blobCount)
	}

	firstAt := inline.clock.Now().Add(time.Hour)
	inlineReads, blobReads := rematch(t, testenv.Advisories(t), firstAt)
	t.Run("a rematch of rows with inline copies reads no inventory blob", func(t *testing.T) {
		if inlineReads != 0 || blobReads != rows {
			t.Errorf("inventory blob reads: %d with inline copies, %d without; want 0 and %d", inlineReads, blobReads, rows)
		}
	})
	t.Run("rows and findings equal the rematch from blobs, with the CVE the first advisories lacked", func(t *testing.T) {
		if diff := cmp.Diff(blobOnly.snapshot(t, repositories...), inline.snapshot(t, repositories...)); diff != "" {
			t.Errorf("after the rematch (-from blobs +from inline copies):\n%s", diff)
		}
		if diff := cmp.Diff(allIn(wantBase, active), inline.states(t, "r/min", base.ManifestDigest)); diff != "" {
			t.Errorf("findings of r/min (-oracle +rematch):\n%s", diff)
		}
	})

	ctx := context.Background()
	damaged := inline.rowsWithCopies(t, digests)
	minKey := "r/min@" + base.ManifestDigest
	multiKeys := []string{"r/multi@" + multi.Manifests[0].ManifestDigest, "r/multi@" + multi.Manifests[1].ManifestDigest}
	swapped := damaged[minKey]
	swapped.InventoryGzip = otherInventoryCopy(t, swapped) // a valid copy of another inventory
	short := damaged[multiKeys[0]]
	short.InventoryGzip = short.InventoryGzip[:len(short.InventoryGzip)/2]
	old := damaged[multiKeys[1]]
	old.InventoryGzip, old.InventorySHA256 = nil, ""
	for _, img := range []store.Image{swapped, short, old} {
		if err := inline.store.PutImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	inlineReads, blobReads = rematch(t, fewer, firstAt.Add(time.Hour))
	t.Run("a damaged or missing copy is read from the blob instead", func(t *testing.T) {
		if inlineReads != rows || blobReads != rows {
			t.Errorf("inventory blob reads: %d with damaged copies, %d without; want %d each", inlineReads, blobReads, rows)
		}
	})
	t.Run("rows and findings equal the rematch from blobs: no damaged copy is matched", func(t *testing.T) {
		if diff := cmp.Diff(blobOnly.snapshot(t, repositories...), inline.snapshot(t, repositories...)); diff != "" {
			t.Errorf("after the rematch (-from blobs +from damaged copies):\n%s", diff)
		}
		if got := inline.states(t, "r/min", base.ManifestDigest)[gone]; got.State != "resolved" || got.Reason != "advisory" {
			t.Errorf("%s, absent from the advisories again, is %+v; want resolved by advisory", gone[0], got)
		}
	})
	t.Run("the rematch writes a verified copy of the blob back into each row it read one for", func(t *testing.T) {
		for key, img := range inline.rowsWithCopies(t, digests) {
			data, ok, err := img.InlineInventory()
			if err != nil || !ok {
				t.Fatalf("%s: inline copy %v, %v; want one", key, ok, err)
			}
			blob, err := inline.store.GetInventory(ctx, img.InventoryRef)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, blob) {
				t.Errorf("%s: the copy written back differs from the blob of record", key)
			}
		}
		for key, img := range blobOnly.rowsWithCopies(t, digests) {
			if img.InventoryGzip != nil {
				t.Errorf("%s: the rematch inlined %d bytes over the limit", key, len(img.InventoryGzip))
			}
		}
	})
}
