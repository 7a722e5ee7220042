package feed_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestASyncThroughInjectedResets500sAnd429sEndsWithEveryFolder(t *testing.T) {
	folders := []string{"Debian", "Go", "npm"}
	b := sharedBucket(t, folders...)
	proxy := testenv.StartFaultProxy(t, b.url,
		"-p429", "0.1", "-p500", "0.15", "-preset", "0.15", "-ptruncate", "0", "-pslow", "0", "-seed", "5")
	w := &waits{}
	src := feed.NewHTTPSource("http://"+proxy, feed.WithSleep(w.sleep), feed.WithAttempts(10))
	dir := feed.Dir(t.TempDir())
	res, err := feed.NewSyncer(src, dir, feed.WithClock(testenv.NewClock(t0).Now)).Sync(context.Background(), folders)
	if err != nil {
		t.Fatalf("sync through faults: %v (waits %v)", err, w.all())
	}
	got, want := map[string]int{}, map[string]int{}
	for _, f := range res.Folders {
		got[f.Folder] = f.Records
		want[f.Folder] = jsonMembers(t, sharedArchive(t, f.Folder))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-export +synced):\n%s", diff)
	}
	if len(w.all()) == 0 {
		t.Error("no fault was retried; the proxy injected nothing and this test proves nothing")
	}
}
