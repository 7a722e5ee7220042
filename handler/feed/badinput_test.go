package feed_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// withExtra returns the shared Go export plus (or with the first member replaced
// by) one member.
func withExtra(t *testing.T, replaceFirst bool, m member) []byte {
	ms := members(t, sharedArchive(t, "Go"))
	if replaceFirst {
		ms = ms[1:]
	}
	return zipOf(t, append(ms, m))
}

func TestBadExportsNeverReplaceTheCurrentGeneration(t *testing.T) {
	for _, tc := range []struct {
		name   string
		export func(t *testing.T, good []byte) []byte
		fault  func(w http.ResponseWriter, r *http.Request, n int) bool
		limits feed.Limits
		reason string
	}{
		{
			name:   "a truncated zip is rejected as incomplete",
			export: func(t *testing.T, good []byte) []byte { return good[:len(good)/2] },
			reason: "not a complete zip archive",
		},
		{
			name: "an HTML error page served with 200 is rejected",
			fault: func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, "<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>")
				return true
			},
			reason: `starting "<!DOCTYPE html>`,
		},
		{
			name: "an export with 10 % of the records is rejected",
			export: func(t *testing.T, good []byte) []byte {
				ms := members(t, good)
				return zipOf(t, ms[:len(ms)/10])
			},
			reason: "fewer than half of the current generation's",
		},
		{
			name:   "an export with no record is rejected",
			export: func(t *testing.T, good []byte) []byte { return zipOf(t, []member{{"README.txt", []byte("empty")}}) },
			reason: "no usable record",
		},
		{
			name: "duplicate ids are rejected",
			export: func(t *testing.T, good []byte) []byte {
				ms := members(t, good)
				return zipOf(t, append(ms, member{"COPY-" + ms[0].name, ms[0].body}))
			},
			reason: "appears twice",
		},
		{
			name: "a corrupted member (bad CRC) is rejected",
			export: func(t *testing.T, good []byte) []byte {
				ms := members(t, good)
				data := zipOf(t, []member{{"A.json", bytes.Repeat([]byte(`{"id":"A"}`), 1)}, ms[1]})
				// Flip a byte inside the first member's stored data.
				i := bytes.Index(data, []byte(`"id":"A"`))
				if i < 0 {
					// deflate hides the text; corrupt just past the first local header
					i = 40
				}
				data[i] ^= 0xff
				return data
			},
			reason: "reading member",
		},
		{
			name:   "an export inflating past the folder cap is rejected",
			limits: feed.Limits{FolderUncompBytes: 1 << 20},
			reason: "inflates past the 1048576-byte cap",
		},
		{
			name:   "an archive declaring more members than the cap is rejected before its directory is parsed",
			limits: feed.Limits{MembersPerFolder: 1000},
			reason: "members, over the cap of 1000",
		},
		{
			name:   "an archive over the download cap is rejected",
			limits: feed.Limits{ArchiveBytes: 1 << 20},
			reason: "exceeds the 1048576-byte cap",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := sharedArchive(t, "Go")
			b := newBucket(t, map[string][]byte{"Go": good})
			dir := feed.Dir(t.TempDir())
			ctx := context.Background()
			if _, err := syncer(b, dir, testenv.NewClock(t0), &waits{}).Sync(ctx, []string{"Go"}); err != nil {
				t.Fatal(err)
			}
			before, blobs := current(t, dir), idxFiles(t, dir)

			bad := zipOf(t, members(t, good)) // a changed export the source reports, so it is fetched
			if tc.export != nil {
				bad = tc.export(t, good)
			}
			b.set("Go", bad)
			b.setFault(tc.fault)
			res, err := syncer(b, dir, testenv.NewClock(t0), &waits{}, feed.WithLimits(tc.limits)).Sync(ctx, []string{"Go"})
			if !errors.Is(err, feed.ErrRejected) || !feed.IsPermanent(err) {
				t.Fatalf("err %v; want a permanent ErrRejected", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("err %q does not say %q", err, tc.reason)
			}
			if res.Changed || statuses(res)["Go"] != feed.StatusRejected {
				t.Errorf("changed %v, Go %s; want unchanged and rejected", res.Changed, statuses(res)["Go"])
			}
			if diff := cmp.Diff(before, current(t, dir)); diff != "" {
				t.Errorf("pointer changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(blobs, idxFiles(t, dir)); diff != "" {
				t.Errorf("blobs changed (-before +after):\n%s", diff)
			}
			if _, _, err := feed.Load(ctx, dir, []string{"Go"}); err != nil {
				t.Errorf("the previous generation no longer loads: %v", err)
			}
		})
	}
}

func TestARejectedExportIsFetchedAgainNotAnswered304(t *testing.T) {
	good := sharedArchive(t, "Go")
	b := newBucket(t, map[string][]byte{"Go": good})
	dir := feed.Dir(t.TempDir())
	s := syncer(b, dir, testenv.NewClock(t0), &waits{})
	ctx := context.Background()
	if _, err := s.Sync(ctx, []string{"Go"}); err != nil {
		t.Fatal(err)
	}
	b.set("Go", good[:len(good)/2])
	if _, err := s.Sync(ctx, []string{"Go"}); !errors.Is(err, feed.ErrRejected) {
		t.Fatalf("err %v; want ErrRejected", err)
	}
	b.seen()
	if _, err := s.Sync(ctx, []string{"Go"}); !errors.Is(err, feed.ErrRejected) {
		t.Fatalf("err %v; want ErrRejected again", err)
	}
	if diff := cmp.Diff([]int{200}, b.seen()); diff != "" {
		t.Errorf("the rejected export's validators were remembered (-want +got):\n%s", diff)
	}
}

func TestBadRecordsAreRejectedWithTheirIDAndTheRestServes(t *testing.T) {
	firstID := strings.TrimSuffix(members(t, sharedArchive(t, "Go"))[0].name, ".json")
	hugeRanges := `{"id":"HUGE-RANGES","affected":[{"package":{"ecosystem":"Go","name":"x"},"ranges":[` +
		strings.Repeat(`{"type":"SEMVER","events":[{"introduced":"0"}]},`, 100_000) + `{"type":"SEMVER","events":[]}]}]}`
	giantVersion := `{"id":"GIANT-VERSION","affected":[{"package":{"ecosystem":"Go","name":"x"},"versions":["` +
		strings.Repeat("1", 1<<20) + `"]}]}`
	giantEvent := `{"id":"GIANT-EVENT","affected":[{"package":{"ecosystem":"Go","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"` +
		strings.Repeat("9", 1<<20) + `"}]}]}]}`
	for _, tc := range []struct {
		name         string
		replaceFirst bool
		m            member
		wantRejected string
	}{
		{"one corrupt record inside a good zip is rejected by its id", true,
			member{firstID + ".json", []byte(`{"id":"` + firstID + `","affected":[{"package":`)}, firstID + ".json: does not parse: unexpected end of JSON input"},
		{"a record whose id does not parse is rejected by its member name", false,
			member{"BROKEN.json", []byte(`{"id": 7}`)}, "BROKEN.json: does not parse: json: cannot unmarshal number into Go struct field osvRecord.id of type string"},
		{"a record with 100k ranges is rejected by its id", false,
			member{"HUGE-RANGES.json", []byte(hugeRanges)}, "HUGE-RANGES: 100001 ranges exceed the cap of 10000"},
		{"a record with a giant version string is rejected by its id", false,
			member{"GIANT-VERSION.json", []byte(giantVersion)}, "GIANT-VERSION: a version of 1048576 bytes exceeds the 1024-byte cap"},
		{"a record with a giant range event is rejected by its id", false,
			member{"GIANT-EVENT.json", []byte(giantEvent)}, "GIANT-EVENT: a range event of 1048576 bytes exceeds the 1024-byte cap"},
		{"a record inflating past the record cap (a zip bomb) is rejected by its member name", false,
			member{"BOMB.json", bytes.Repeat([]byte{' '}, 64<<20)}, "BOMB.json: record inflates past the per-record cap"},
		{"a record with a path for an id is rejected", false,
			member{"EVIL.json", []byte(`{"id":"../../etc/passwd","affected":[]}`)}, "EVIL.json: id \"../../etc/passwd\" is empty or not a plain name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			export := withExtra(t, tc.replaceFirst, tc.m)
			b := newBucket(t, map[string][]byte{"Go": export})
			dir := feed.Dir(t.TempDir())
			res, err := syncer(b, dir, testenv.NewClock(t0), &waits{}).Sync(context.Background(), []string{"Go"})
			if err != nil {
				t.Fatal(err)
			}
			want := feed.FolderResult{
				Folder:      "Go",
				Status:      feed.StatusUpdated,
				Records:     jsonMembers(t, export) - 1,
				Rejected:    1,
				RejectedIDs: []string{tc.wantRejected},
			}
			if diff := cmp.Diff([]feed.FolderResult{want}, res.Folders); diff != "" {
				t.Errorf("folder result (-want +got):\n%s", diff)
			}
			if _, _, err := feed.Load(context.Background(), dir, []string{"Go"}); err != nil {
				t.Errorf("the generation does not load: %v", err)
			}
		})
	}
}
