package advisory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// errCorrupt reports a compiled folder that does not decode: it is never loaded in
// part, since a partial index would silently hide vulnerabilities.
var errCorrupt = errors.New("corrupt compiled advisory folder")

// decodeCompiled checks and decodes a compiled folder. Every count it reads is
// bounded by the bytes left to read it from, so a hostile blob cannot make it
// allocate more than a small multiple of its own size.
func decodeCompiled(data []byte) (*folderData, error) {
	if len(data) < headerLen || !IsCompiled(data) {
		return nil, fmt.Errorf("%w: no compiled header: %w", errCorrupt, ErrNoAdvisories)
	}
	if v := data[len(compiledMagic)]; v != compiledVersion {
		return nil, fmt.Errorf("%w: format version %d, want %d: %w", errCorrupt, v, compiledVersion, ErrNoAdvisories)
	}
	sum := binary.LittleEndian.Uint32(data[len(compiledMagic)+1:])
	size := binary.LittleEndian.Uint64(data[len(compiledMagic)+5:])
	payload := data[headerLen:]
	if size != uint64(len(payload)) {
		return nil, fmt.Errorf("%w: payload is %d bytes, header says %d: %w", errCorrupt, len(payload), size, ErrNoAdvisories)
	}
	if crc32.Checksum(payload, castagnoli) != sum {
		return nil, fmt.Errorf("%w: payload checksum mismatch: %w", errCorrupt, ErrNoAdvisories)
	}
	d := &decoder{buf: payload}
	out := d.folder()
	if d.err == nil && d.pos != len(d.buf) {
		d.fail("%d bytes after the last record", len(d.buf)-d.pos)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w at byte %d: %w: %w", errCorrupt, headerLen+d.pos, d.err, ErrNoAdvisories)
	}
	return out, nil
}

// decoder reads a payload; the first error sticks and every later read is zero.
type decoder struct {
	buf   []byte
	pos   int
	err   error
	table []string
	// shared holds the rating lists decoded so far by their string indexes: a few
	// lists ({urgency, unimportant}) repeat on most entries, and lists are read-only.
	shared map[[4]uint64][]Rating

	// Slabs sized by the payload's totals; items are sliced off them in order.
	records  []Record
	affected []Affected
	entries  []*Affected
	ranges   []Range
	events   []Event
	refs     []string
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.pos:])
	if n <= 0 {
		d.fail("bad or truncated integer")
		return 0
	}
	d.pos += n
	return v
}

// count reads a length of items each taking at least minBytes of what is left.
func (d *decoder) count(minBytes int) int {
	n := d.uint()
	if n > uint64(len(d.buf)-d.pos)/uint64(minBytes) {
		d.fail("count %d exceeds what is left of the payload", n)
		return 0
	}
	return int(n)
}

func (d *decoder) str() string { return d.strAt(d.uint()) }

// strAt is the string of table index i.
func (d *decoder) strAt(i uint64) string {
	if i >= uint64(len(d.table)) {
		d.fail("string %d of %d", i, len(d.table))
		return ""
	}
	return d.table[i]
}

// strings reads the string table: one backing string, entries sliced from it.
func (d *decoder) strings() {
	total := d.count(1)
	if d.err != nil {
		return
	}
	backing := string(d.buf[d.pos : d.pos+total])
	d.pos += total
	n := d.count(1)
	if d.err != nil {
		return
	}
	d.table = make([]string, n+1)
	off := 0
	for i := 1; i <= n; i++ {
		l := d.uint()
		if l > uint64(len(backing)-off) {
			d.fail("string %d overruns the table", i)
			return
		}
		d.table[i] = backing[off : off+int(l)]
		off += int(l)
	}
	if off != len(backing) {
		d.fail("string table holds %d unused bytes", len(backing)-off)
	}
}

// take helpers slice n items off a slab, nil for none (as the JSON decoder leaves
// absent lists).
func take[T any](d *decoder, slab *[]T, n int, what string) []T {
	if n == 0 || d.err != nil {
		return nil
	}
	if n > len(*slab) {
		d.fail("more %s than the totals declare", what)
		return nil
	}
	out := (*slab)[:n:n]
	*slab = (*slab)[n:]
	return out
}

func (d *decoder) strList() []string {
	out := take(d, &d.refs, d.count(1), "string references")
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *decoder) severity() []Severity {
	n := d.count(2)
	if n == 0 || d.err != nil {
		return nil
	}
	out := make([]Severity, n)
	for i := range out {
		out[i] = Severity{Type: d.str(), Score: d.str()}
	}
	return out
}

func (d *decoder) ratings() []Rating {
	n := d.count(2)
	if n == 0 || d.err != nil {
		return nil
	}
	if n > 2 {
		out := make([]Rating, n)
		for i := range out {
			out[i] = Rating{Kind: d.str(), Value: d.str()}
		}
		return out
	}
	var key [4]uint64
	for i := range 2 * n {
		key[i] = d.uint() + 1 // 0 marks an absent second rating
	}
	if d.err != nil {
		return nil
	}
	if out, ok := d.shared[key]; ok {
		return out
	}
	out := make([]Rating, n)
	for i := range out {
		out[i] = Rating{Kind: d.strAt(key[2*i] - 1), Value: d.strAt(key[2*i+1] - 1)}
	}
	if d.shared == nil {
		d.shared = make(map[[4]uint64][]Rating)
	}
	d.shared[key] = out
	return out
}

func (d *decoder) modified() time.Time {
	switch d.uint() {
	case 0:
		return time.Time{}
	case 1:
	default:
		d.fail("bad modified time")
		return time.Time{}
	}
	if d.err != nil {
		return time.Time{}
	}
	sec, n := binary.Varint(d.buf[d.pos:])
	if n <= 0 {
		d.fail("bad modified time")
		return time.Time{}
	}
	d.pos += n
	nsec := d.uint()
	if nsec >= uint64(time.Second) {
		d.fail("bad modified time")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// folder reads the whole payload.
func (d *decoder) folder() *folderData {
	d.strings()
	// Minimum encoded sizes: a record 8 bytes, an entry 7, a range 2, an event 4,
	// a reference 1.
	nRecords, nAffected, nRanges, nEvents, nRefs := d.count(8), d.count(7), d.count(2), d.count(4), d.count(1)
	if d.err != nil {
		return nil
	}
	d.records = make([]Record, nRecords)
	d.affected = make([]Affected, nAffected)
	d.entries = make([]*Affected, nAffected)
	d.ranges = make([]Range, nRanges)
	d.events = make([]Event, nEvents)
	d.refs = make([]string, nRefs)
	out := &folderData{}
	if nRecords > 0 {
		out.records = make([]folderRecord, 0, nRecords)
	}
	for range nRecords {
		recs := take(d, &d.records, 1, "records")
		if d.err != nil {
			return nil
		}
		rec := &recs[0]
		rec.ID, rec.Summary, rec.Modified = d.str(), d.str(), d.modified()
		rec.Aliases, rec.Related = d.strList(), d.strList()
		rec.Severity, rec.Ratings = d.severity(), d.ratings()
		out.records = append(out.records, folderRecord{record: rec, entries: d.affectedList(rec)})
		if d.err != nil {
			return nil
		}
	}
	n := d.count(2)
	if d.err != nil {
		return nil
	}
	if n > 0 {
		out.severity = make([]idSeverity, n)
	}
	for i := range out.severity {
		out.severity[i] = idSeverity{id: d.str(), severity: d.severity()}
	}
	if d.err == nil && len(d.records)+len(d.affected)+len(d.ranges)+len(d.events)+len(d.refs) != 0 {
		d.fail("fewer items than the totals declare")
	}
	return out
}

// affectedList reads a record's affected entries.
func (d *decoder) affectedList(rec *Record) []*Affected {
	n := d.count(7)
	entries := take(d, &d.entries, n, "affected entries")
	items := take(d, &d.affected, n, "affected entries")
	for i := range items {
		a := &items[i]
		entries[i] = a
		a.Record = rec
		a.Ecosystem, a.Package, a.Urgency = d.str(), d.str(), d.str()
		a.Severity, a.Ratings = d.severity(), d.ratings()
		a.Versions = d.strList()
		a.Ranges = take(d, &d.ranges, d.count(2), "ranges")
		for j := range a.Ranges {
			rg := &a.Ranges[j]
			rg.Type = d.str()
			ne := d.count(4)
			if d.err != nil {
				return nil
			}
			// Events are never nil, as the JSON decoder makes them.
			rg.Events = make([]Event, 0)
			if ne > 0 {
				rg.Events = take(d, &d.events, ne, "events")
			}
			for k := range rg.Events {
				introduced, fixed, lastAffected, limit := d.str(), d.str(), d.str(), d.str()
				rg.Events[k] = NewEvent(introduced, fixed, lastAffected, limit)
			}
		}
		if d.err != nil {
			return nil
		}
	}
	return entries
}
