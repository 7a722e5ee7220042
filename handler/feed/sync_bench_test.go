package feed_test

import (
	"context"
	"testing"

	"github.com/tidewatch/tidewatch/handler/feed"
)

// BenchmarkSyncDebian measures a full sync (fetch from a directory, verify, write
// the .idx) of the shared Debian folder.
func BenchmarkSyncDebian(b *testing.B) {
	src, err := feed.OpenSource("../../../shared/advisories")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		dir := feed.Dir(b.TempDir())
		if _, err := feed.NewSyncer(src, dir).Sync(context.Background(), []string{"Debian"}); err != nil {
			b.Fatal(err)
		}
	}
}
