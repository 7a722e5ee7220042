package pipeline

import (
	"fmt"
	"strings"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/store"
)

// maxRejectedListed bounds the rejected record ids an advisories runs row lists;
// the rest are counted.
const maxRejectedListed = 20

// syncDelta is what a sync contributes to its run: the generation serving after it
// with its checkedAt, each folder's outcome, and the records its exports rejected.
// A failed folder (rejected, or the whole sync when it failed) counts in Failed and
// says why in Failure, which also lists the rejected records' ids, capped.
func syncDelta(res *feed.Result, err error) store.RunDelta {
	var d store.RunDelta
	var lines []string
	if res != nil {
		d.Folders = folderOutcomes(res.Folders)
		if res.Pointer != nil {
			d.Generation, d.AdvisoryCheckedAt = res.Pointer.Generation, res.Pointer.CheckedAt
		}
		for _, f := range res.Folders {
			if f.Status == feed.StatusRejected {
				d.Failed++
				lines = append(lines, fmt.Sprintf("%s rejected: %s", f.Folder, oneLine(f.Reason)))
			}
			if f.Status != feed.StatusUnchanged { // an unchanged folder's were counted when it was downloaded
				d.RejectedRecords += f.Rejected
			}
		}
		lines = append(lines, rejectedRecordLines(res.Folders, d.RejectedRecords)...)
	}
	if err != nil && d.Failed == 0 {
		d.Failed = 1
		lines = append(lines, oneLine(err.Error()))
	}
	d.Failure = strings.Join(lines, "\n")
	return d
}

// folderOutcomes is one line naming each folder's outcome:
// "Debian updated 11382 records; GIT unchanged 130 records, 2 rejected; npm rejected: <reason>".
func folderOutcomes(folders []feed.FolderResult) string {
	parts := make([]string, 0, len(folders))
	for _, f := range folders {
		if f.Status == feed.StatusRejected {
			parts = append(parts, fmt.Sprintf("%s rejected: %s", f.Folder, oneLine(f.Reason)))
			continue
		}
		part := fmt.Sprintf("%s %s %d records", f.Folder, f.Status, f.Records)
		if f.Rejected > 0 {
			part += fmt.Sprintf(", %d rejected", f.Rejected)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}

// rejectedRecordLines lists at most maxRejectedListed rejected records, one line
// each ("Go record rejected: GO-…: reason"), then how many more of total there are
// (the feed lists a bounded number per folder, so total may exceed the ids known).
func rejectedRecordLines(folders []feed.FolderResult, total int) []string {
	var lines []string
	known := 0
	for _, f := range folders {
		for _, id := range f.RejectedIDs {
			if known < maxRejectedListed {
				lines = append(lines, fmt.Sprintf("%s record rejected: %s", f.Folder, oneLine(id)))
			}
			known++
		}
	}
	total = max(total, known)
	switch shown := len(lines); {
	case total == shown:
	case shown == 0:
		lines = append(lines, fmt.Sprintf("%d rejected records", total))
	default:
		lines = append(lines, fmt.Sprintf("… and %d more rejected records (%d in all)", total-shown, total))
	}
	return lines
}

// oneLine keeps a text on the one line a runs entry is.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
