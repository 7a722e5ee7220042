package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/store"
)

func TestAnAdvisoriesRunRowNamesEachFolderTheGenerationAndTheRejectedRecordsCapped(t *testing.T) {
	checked := time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)
	pointer := &feed.Pointer{Generation: "20260310T060000.000Z-0a1b2c3d", CheckedAt: checked}
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("GO-2024-%04d: affected[0].ranges: more than 10000 ranges", i)
		}
		return out
	}
	listed := make([]string, 0, 21)
	for _, id := range ids(20) {
		listed = append(listed, "Go record rejected: "+id)
	}
	listed = append(listed, "… and 117 more rejected records (137 in all)")

	for _, tc := range []struct {
		name string
		res  *feed.Result
		err  error
		want store.RunDelta
	}{
		{
			name: "a good sync shows every folder's status and records, the generation and its check, and no failure",
			res: &feed.Result{Changed: true, Pointer: pointer, Folders: []feed.FolderResult{
				{Folder: "Debian", Status: feed.StatusUpdated, Records: 11382},
				{Folder: "GIT", Status: feed.StatusUnchanged, Records: 130, Rejected: 4},
			}},
			want: store.RunDelta{Generation: pointer.Generation, AdvisoryCheckedAt: checked,
				Folders: "Debian updated 11382 records; GIT unchanged 130 records, 4 rejected"},
		},
		{
			name: "a rejected folder counts as failed, says why, and the generation that keeps serving is named",
			res: &feed.Result{Pointer: pointer, Folders: []feed.FolderResult{
				{Folder: "Debian", Status: feed.StatusUnchanged, Records: 11382},
				{Folder: "npm", Status: feed.StatusRejected, Reason: "not a zip archive:\nzip: not a valid zip file"},
			}},
			err: feed.ErrRejected,
			want: store.RunDelta{Failed: 1, Generation: pointer.Generation, AdvisoryCheckedAt: checked,
				Folders: "Debian unchanged 11382 records; npm rejected: not a zip archive: zip: not a valid zip file",
				Failure: "npm rejected: not a zip archive: zip: not a valid zip file"},
		},
		{
			name: "rejected records are listed twenty at most, then counted with the total",
			res: &feed.Result{Changed: true, Pointer: pointer, Folders: []feed.FolderResult{
				{Folder: "Go", Status: feed.StatusUpdated, Records: 900, Rejected: 137, RejectedIDs: ids(100)},
			}},
			want: store.RunDelta{Generation: pointer.Generation, AdvisoryCheckedAt: checked, RejectedRecords: 137,
				Folders: "Go updated 900 records, 137 rejected", Failure: strings.Join(listed, "\n")},
		},
		{
			name: "a sync that could not complete counts one failure with its cause",
			err:  errors.New("syncing Debian: fetching Debian/all.zip: HTTP 500 after 4 attempts"),
			want: store.RunDelta{Failed: 1, Failure: "syncing Debian: fetching Debian/all.zip: HTTP 500 after 4 attempts"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, syncDelta(tc.res, tc.err)); diff != "" {
				t.Errorf("run delta (-want +got):\n%s", diff)
			}
		})
	}
}
