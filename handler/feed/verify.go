package feed

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tidewatch/tidewatch/handler/advisory"
)

// verified is one folder's archive after verification: the accepted members by
// record id (still compressed, inside the downloaded archive), and what was
// rejected.
type verified struct {
	records     map[string]*zip.File
	rejected    int
	rejectedIDs []string
}

// reject counts one rejected record, listing its id (or member name) up to the cap.
func (v *verified) reject(id, reason string) {
	v.rejected++
	if len(v.rejectedIDs) < MaxRejectedIDs {
		v.rejectedIDs = append(v.rejectedIDs, id+": "+reason)
	}
}

// verifyArchive checks one all.zip whole. A broken archive (not a zip, truncated, a
// bad CRC, a member over the folder's inflated cap, duplicate ids) is an ErrRejected
// error; a record that does not parse or is out of bounds is rejected alone.
func verifyArchive(ctx context.Context, data []byte, lim Limits) (*verified, error) {
	if n, ok := declaredMembers(data); ok && n > uint64(lim.MembersPerFolder) {
		return nil, fmt.Errorf("archive declares %d members, over the cap of %d: %w", n, lim.MembersPerFolder, ErrRejected)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("not a complete zip archive (%d bytes, starting %q): %w: %w", len(data), prefix(data), ErrRejected, err)
	}
	v := &verified{records: make(map[string]*zip.File, len(zr.File))}
	var inflated int64
	var buf bytes.Buffer
	for i, f := range zr.File {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		body, err := readMember(f, lim.RecordBytes, &buf)
		if err != nil {
			if errors.Is(err, errRecordTooLarge) {
				v.reject(f.Name, err.Error())
				inflated += lim.RecordBytes
				continue
			}
			return nil, fmt.Errorf("reading member %s: %w: %w", f.Name, ErrRejected, err)
		}
		inflated += int64(len(body))
		if inflated > lim.FolderUncompBytes {
			return nil, fmt.Errorf("archive inflates past the %d-byte cap: %w", lim.FolderUncompBytes, ErrRejected)
		}
		id, err := checkRecord(body, lim)
		if err != nil {
			v.reject(cmp.Or(id, f.Name), err.Error())
			continue
		}
		if _, dup := v.records[id]; dup {
			return nil, fmt.Errorf("record id %s appears twice (member %s): %w", id, f.Name, ErrRejected)
		}
		v.records[id] = f
	}
	return v, nil
}

var errRecordTooLarge = errors.New("record inflates past the per-record cap")

// readMember inflates one member into buf (reused; the result aliases it), which
// archive/zip checks against its CRC-32 and declared size at EOF.
func readMember(f *zip.File, limit int64, buf *bytes.Buffer) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, errRecordTooLarge
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(rc, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, errRecordTooLarge
	}
	return buf.Bytes(), nil
}

// checkRecord parses one record as the advisory index will and bounds it; it
// returns the id whenever it could be read, so a rejection names the record.
func checkRecord(body []byte, lim Limits) (string, error) {
	o, err := advisory.OutlineRecord(body)
	if err != nil {
		return safeID(o.ID), fmt.Errorf("does not parse: %w", err)
	}
	if o.ID == "" || safeID(o.ID) != o.ID {
		return "", fmt.Errorf("id %q is empty or not a plain name", o.ID)
	}
	if o.LongestVersion > lim.VersionLength {
		return o.ID, fmt.Errorf("a version of %d bytes exceeds the %d-byte cap", o.LongestVersion, lim.VersionLength)
	}
	if o.LongestEvent > lim.VersionLength {
		return o.ID, fmt.Errorf("a range event of %d bytes exceeds the %d-byte cap", o.LongestEvent, lim.VersionLength)
	}
	if o.Ranges > lim.RangesPerRecord {
		return o.ID, fmt.Errorf("%d ranges exceed the cap of %d", o.Ranges, lim.RangesPerRecord)
	}
	if o.Versions > lim.VersionsPerRecord {
		return o.ID, fmt.Errorf("%d versions exceed the cap of %d", o.Versions, lim.VersionsPerRecord)
	}
	return o.ID, nil
}

// safeID returns id when it can name a zip member and a log line (printable, no
// path separators, bounded), else "".
func safeID(id string) string {
	if id == "" || len(id) > 256 || id == "." || id == ".." || strings.ContainsAny(id, `/\`) {
		return ""
	}
	for _, c := range id {
		if c < 0x21 || c == 0x7f {
			return ""
		}
	}
	return id
}

// encodeIndex compiles the accepted records, in id order, into the folder's .idx
// (advisory.Compile's format). Each member is inflated again (its CRC already
// checked) rather than kept inflated since verification, so a sync holds the
// folder's records decoded once, not its JSON.
func encodeIndex(v *verified, recordBytes int64) ([]byte, error) {
	ids := make([]string, 0, len(v.records))
	for id := range v.records {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c := advisory.NewCompiler()
	var buf bytes.Buffer
	for _, id := range ids {
		body, err := readMember(v.records[id], recordBytes, &buf)
		if err != nil {
			return nil, fmt.Errorf("compiling %s: %w", id, err)
		}
		if err := c.Add(body); err != nil {
			return nil, fmt.Errorf("compiling %s: %w", id, err)
		}
	}
	data, err := c.Bytes()
	if err != nil {
		return nil, fmt.Errorf("compiling index: %w", err)
	}
	return data, nil
}

// declaredMembers reads the member count from a zip's end-of-central-directory
// record (or its zip64 counterpart), without parsing the directory. ok is false
// when the record is not found; zip.NewReader then rejects the archive.
func declaredMembers(data []byte) (n uint64, ok bool) {
	const eocdLen, maxComment = 22, 1<<16 - 1
	start := max(0, len(data)-eocdLen-maxComment)
	i := bytes.LastIndex(data[start:], []byte("PK\x05\x06"))
	if i < 0 || start+i+eocdLen > len(data) {
		return 0, false
	}
	eocd := start + i
	n = uint64(binary.LittleEndian.Uint16(data[eocd+10:]))
	if n != 0xffff {
		return n, true
	}
	// zip64: a 20-byte locator precedes the record and points at the zip64 record.
	loc := eocd - 20
	if loc < 0 || !bytes.Equal(data[loc:loc+4], []byte("PK\x06\x07")) {
		return n, true
	}
	off := binary.LittleEndian.Uint64(data[loc+8:])
	if off > uint64(len(data)-40) || !bytes.Equal(data[off:off+4], []byte("PK\x06\x06")) {
		return n, true
	}
	return binary.LittleEndian.Uint64(data[off+32:]), true
}

// prefix quotes the start of data for an error, e.g. an HTML page served as 200.
func prefix(data []byte) string {
	return string(data[:min(len(data), 40)])
}
