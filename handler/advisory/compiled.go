package advisory

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
)

// The compiled folder format, version 1. All integers are uvarints unless noted.
//
//	header  magic "TWADVIX\x00" (8 bytes), format version (1 byte),
//	        CRC-32C of the payload (4 bytes, little endian),
//	        payload length (8 bytes, little endian)
//	payload strings: total bytes, the bytes (one backing string), count, then
//	                 each string's length; string 0 is "" and is not stored
//	        totals: records, affected entries, ranges, events, string references
//	                (allocation sizes, each checked against what follows)
//	        records: per record id, summary, modified (0 = none, else 1, varint
//	                 Unix seconds, nanoseconds), aliases, related, severity,
//	                 ratings, affected entries
//	        affected entry: ecosystem, package, urgency, severity, ratings,
//	                 versions, ranges (type, events: introduced, fixed,
//	                 last_affected, limit)
//	        severity-only records: count, then per record id and severity
//
// A string is its index in the table; a list is its length then its items; a
// severity is (type, score), a rating (kind, value). Usable records come in the
// order they were added; the severity-only records are those that are not usable
// for matching but state a severity (the severity folder's NVD records).
const (
	compiledMagic   = "TWADVIX\x00"
	compiledVersion = 1
	headerLen       = len(compiledMagic) + 1 + 4 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// IsCompiled reports whether data starts like a compiled folder (see Compile).
func IsCompiled(data []byte) bool { return bytes.HasPrefix(data, []byte(compiledMagic)) }

// Compiler builds one folder's compiled index from its OSV records, added one at a
// time so a sync never holds the folder's JSON inflated. The zero value is not
// usable; call NewCompiler.
type Compiler struct {
	strs interner
	ids  map[string]bool
	data folderData
}

// NewCompiler returns an empty Compiler.
func NewCompiler() *Compiler {
	return &Compiler{strs: make(interner), ids: make(map[string]bool)}
}

// Add decodes one OSV record (JSON) exactly as LoadFrom would and keeps what the
// index needs: a usable record with its affected entries, or the severity of one
// that states it. Withdrawn and unusable records are dropped. An undecodable
// record or a repeated id is an error.
func (c *Compiler) Add(record []byte) error {
	var r osvRecord
	if err := json.Unmarshal(record, &r); err != nil {
		return fmt.Errorf("decoding record %q: %w", probeID(record), err)
	}
	return c.add(&r)
}

// add keeps one decoded record.
func (c *Compiler) add(r *osvRecord) error {
	if !keepForFolder(r) {
		return nil
	}
	if c.ids[r.ID] {
		return fmt.Errorf("record %s added twice", r.ID)
	}
	c.ids[r.ID] = true
	d := fromOSV([]*osvRecord{r}, c.strs)
	c.data.records = append(c.data.records, d.records...)
	c.data.severity = append(c.data.severity, d.severity...)
	return nil
}

// Bytes returns the compiled folder: what LoadFrom, given it as a folder's
// all.zip, decodes to the same index as the records themselves.
func (c *Compiler) Bytes() ([]byte, error) { return encodeFolder(&c.data) }

// Compile compiles an OSV all.zip (every .json member) into one folder's compiled
// index; feed compiles record by record with a Compiler instead.
func Compile(ctx context.Context, archive []byte) ([]byte, error) {
	decoded, err := decodeArchive(ctx, archive, keepForFolder)
	if err != nil {
		return nil, err
	}
	c := NewCompiler()
	for _, r := range decoded {
		if r == nil {
			continue
		}
		if err := c.add(r); err != nil {
			return nil, err
		}
	}
	return c.Bytes()
}

// encoder writes the payload; strings get table indexes in order of first use.
type encoder struct {
	out   []byte
	index map[string]uint64
	table []string
}

func (e *encoder) uint(v uint64) { e.out = binary.AppendUvarint(e.out, v) }

func (e *encoder) str(s string) {
	if s == "" {
		e.uint(0)
		return
	}
	i, ok := e.index[s]
	if !ok {
		i = uint64(len(e.table)) + 1
		e.index[s] = i
		e.table = append(e.table, s)
	}
	e.uint(i)
}

func (e *encoder) strs(list []string) {
	e.uint(uint64(len(list)))
	for _, s := range list {
		e.str(s)
	}
}

func (e *encoder) severity(list []Severity) {
	e.uint(uint64(len(list)))
	for _, s := range list {
		e.str(s.Type)
		e.str(s.Score)
	}
}

func (e *encoder) ratings(list []Rating) {
	e.uint(uint64(len(list)))
	for _, r := range list {
		e.str(r.Kind)
		e.str(r.Value)
	}
}

func (e *encoder) time(t Record) {
	if t.Modified.IsZero() {
		e.uint(0)
		return
	}
	e.uint(1)
	e.out = binary.AppendVarint(e.out, t.Modified.Unix())
	e.uint(uint64(t.Modified.Nanosecond()))
}

// encodeFolder writes d in the compiled format.
func encodeFolder(d *folderData) ([]byte, error) {
	body := &encoder{index: make(map[string]uint64)}
	var affected, ranges, events, refs uint64
	for _, r := range d.records {
		rec := r.record
		body.str(rec.ID)
		body.str(rec.Summary)
		body.time(*rec)
		body.strs(rec.Aliases)
		body.strs(rec.Related)
		body.severity(rec.Severity)
		body.ratings(rec.Ratings)
		refs += uint64(len(rec.Aliases) + len(rec.Related))
		body.uint(uint64(len(r.entries)))
		affected += uint64(len(r.entries))
		for _, a := range r.entries {
			body.str(a.Ecosystem)
			body.str(a.Package)
			body.str(a.Urgency)
			body.severity(a.Severity)
			body.ratings(a.Ratings)
			body.strs(a.Versions)
			refs += uint64(len(a.Versions))
			body.uint(uint64(len(a.Ranges)))
			ranges += uint64(len(a.Ranges))
			for _, rg := range a.Ranges {
				body.str(rg.Type)
				body.uint(uint64(len(rg.Events)))
				events += uint64(len(rg.Events))
				for _, ev := range rg.Events {
					body.str(ev.Introduced())
					body.str(ev.Fixed())
					body.str(ev.LastAffected())
					body.str(ev.Limit())
				}
			}
		}
	}
	body.uint(uint64(len(d.severity)))
	for _, s := range d.severity {
		body.str(s.id)
		body.severity(s.severity)
	}

	var payload []byte
	total := 0
	for _, s := range body.table {
		total += len(s)
	}
	payload = binary.AppendUvarint(payload, uint64(total))
	for _, s := range body.table {
		payload = append(payload, s...)
	}
	payload = binary.AppendUvarint(payload, uint64(len(body.table)))
	for _, s := range body.table {
		payload = binary.AppendUvarint(payload, uint64(len(s)))
	}
	for _, n := range []uint64{uint64(len(d.records)), affected, ranges, events, refs} {
		payload = binary.AppendUvarint(payload, n)
	}
	payload = append(payload, body.out...)
	if uint64(len(payload)) > math.MaxInt32 {
		return nil, fmt.Errorf("compiled folder of %d bytes is too large", len(payload))
	}

	out := make([]byte, 0, headerLen+len(payload))
	out = append(out, compiledMagic...)
	out = append(out, compiledVersion)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(payload, castagnoli))
	out = binary.LittleEndian.AppendUint64(out, uint64(len(payload)))
	return append(out, payload...), nil
}
