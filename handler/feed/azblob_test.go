package feed_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// azuriteContainer creates a fresh container in Azurite.
func azuriteContainer(t *testing.T) *container.Client {
	t.Helper()
	client, err := container.NewClientFromConnectionString(testenv.Storage(t), "advisories"+testenv.Name(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Create(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = client.Delete(context.Background(), nil) })
	return client
}

// listIdx lists the .idx blobs of a container.
func listIdx(t *testing.T, client *container.Client) []string {
	t.Helper()
	var out []string
	pager := client.NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Segment.BlobItems {
			if strings.HasSuffix(*b.Name, ".idx") {
				out = append(out, *b.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestBlobStoragePutIfRefusesAStaleOrSecondFirstWrite(t *testing.T) {
	blobs := feed.NewContainerBlobs(azuriteContainer(t))
	ctx := context.Background()
	if err := blobs.PutIf(ctx, "current.json", []byte("one"), ""); err != nil {
		t.Fatal(err)
	}
	_, etag, err := blobs.Get(ctx, "current.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		etag string
	}{
		{"a second first write", ""},
		{"a write with a made-up ETag", `"0x8DEADBEEF"`},
	} {
		t.Run(tc.name+" is a conflict", func(t *testing.T) {
			if err := blobs.PutIf(ctx, "current.json", []byte("two"), tc.etag); !errors.Is(err, feed.ErrConflict) {
				t.Errorf("err %v; want ErrConflict", err)
			}
		})
	}
	if err := blobs.PutIf(ctx, "current.json", []byte("three"), etag); err != nil {
		t.Errorf("a write with the current ETag: %v", err)
	}
	if data, _, err := blobs.Get(ctx, "current.json"); err != nil || string(data) != "three" {
		t.Errorf("current.json holds %q (%v); want three", data, err)
	}
}

func TestTwoSyncsAtOnceOnBlobStorageLeaveOneConsistentGeneration(t *testing.T) {
	client := azuriteContainer(t)
	raceSyncs(t, feed.NewContainerBlobs(client), func(t *testing.T) []string { return listIdx(t, client) })
}
