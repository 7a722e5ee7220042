package store

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// edmTimeLayout is the Edm.DateTime wire form: UTC with 100 ns precision.
const edmTimeLayout = "2006-01-02T15:04:05.0000000Z"

// entity is a Table entity being written: property name → JSON value, with explicit
// "@odata.type" annotations so the service stores typed, portal-readable columns.
type entity map[string]any

func newEntity(partitionKey, rowKey string) entity {
	return entity{"PartitionKey": partitionKey, "RowKey": rowKey}
}

// setString stores s, truncated to the per-property limit with a visible marker.
func (e entity) setString(name, s string) { e[name] = limitString(s) }

// setInt32 stores an Edm.Int32 (the Table service's default for JSON integers).
func (e entity) setInt32(name string, v int) {
	switch {
	case v > math.MaxInt32:
		v = math.MaxInt32
	case v < math.MinInt32:
		v = math.MinInt32
	}
	e[name] = int32(v)
}

// setInt64 stores an Edm.Int64, which travels as a JSON string.
func (e entity) setInt64(name string, v int64) {
	e[name] = strconv.FormatInt(v, 10)
	e[name+"@odata.type"] = "Edm.Int64"
}

// setFloat stores an Edm.Double; without the annotation 7.0 would become an Int32.
func (e entity) setFloat(name string, v float64) {
	e[name] = v
	e[name+"@odata.type"] = "Edm.Double"
}

func (e entity) setBool(name string, v bool) { e[name] = v }

// setBinary stores an Edm.Binary (base64 on the wire, as encoding/json writes a
// []byte). Callers keep it within the 64 KiB per-property limit.
func (e entity) setBinary(name string, b []byte) {
	e[name] = b
	e[name+"@odata.type"] = "Edm.Binary"
}

// setTime stores an Edm.DateTime in UTC; the zero time is left out (no column).
func (e entity) setTime(name string, t time.Time) {
	if t.IsZero() {
		return
	}
	e[name] = t.UTC().Format(edmTimeLayout)
	e[name+"@odata.type"] = "Edm.DateTime"
}

func (e entity) marshal() ([]byte, error) {
	fitEntity(e)
	b, err := json.Marshal(map[string]any(e))
	if err != nil {
		return nil, fmt.Errorf("marshalling entity %v/%v: %w", e["PartitionKey"], e["RowKey"], err)
	}
	return b, nil
}

// row is a Table entity read back: raw JSON per property. Getters are lenient about
// the JSON shape (numbers as numbers or strings) because the service chooses it.
type row struct {
	props map[string]json.RawMessage
	etag  string
}

func parseRow(data []byte) (row, error) {
	var r row
	if err := json.Unmarshal(data, &r.props); err != nil {
		return row{}, fmt.Errorf("decoding entity: %w", err)
	}
	if raw, ok := r.props["odata.etag"]; ok {
		_ = json.Unmarshal(raw, &r.etag)
	}
	return r, nil
}

func (r row) str(name string) string {
	var s string
	if raw, ok := r.props[name]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

func (r row) partitionKey() string { return r.str("PartitionKey") }
func (r row) rowKey() string       { return r.str("RowKey") }

// number reads a numeric property sent either as a JSON number or a string
// (Edm.Int64, Edm.Double specials).
func (r row) number(name string) (json.Number, bool) {
	raw, ok := r.props[name]
	if !ok {
		return "", false
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return json.Number(s), true
	}
	return "", false
}

func (r row) int(name string) int {
	v := r.int64(name)
	return int(v)
}

func (r row) int64(name string) int64 {
	n, ok := r.number(name)
	if !ok {
		return 0
	}
	if v, err := n.Int64(); err == nil {
		return v
	}
	f, _ := n.Float64()
	return int64(f)
}

func (r row) float(name string) float64 {
	n, ok := r.number(name)
	if !ok {
		return 0
	}
	f, _ := strconv.ParseFloat(string(n), 64)
	return f
}

// binary reads an Edm.Binary property; nil when absent, null or not base64.
func (r row) binary(name string) []byte {
	var b []byte
	if raw, ok := r.props[name]; ok {
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil
		}
	}
	return b
}

func (r row) bool(name string) bool {
	var v bool
	if raw, ok := r.props[name]; ok {
		_ = json.Unmarshal(raw, &v)
	}
	return v
}

func (r row) time(name string) time.Time {
	s := r.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
