package store

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// Table service limits: a string property holds at most 64 KiB of UTF-16 (32 Ki code
// units) and a whole entity at most 1 MiB. We stay under both with a margin for the
// keys, annotations and the truncation marker.
const (
	maxPropertyUnits = 32 * 1024
	maxEntityBytes   = 900 * 1024
)

// TruncatedMarker starts the suffix added to a string value that was cut to fit an
// entity property, so a reader (or the portal) can see the value is incomplete.
const TruncatedMarker = "…[truncated by tidewatch"

// limitString returns s unchanged when it fits a property, else its longest prefix
// that fits together with a marker naming the original length.
func limitString(s string) string {
	return truncateUnits(s, maxPropertyUnits)
}

// truncateUnits cuts s to at most limit UTF-16 code units including the marker.
func truncateUnits(s string, limit int) string {
	total := utf16Len(s)
	if total <= limit {
		return s
	}
	marker := fmt.Sprintf("%s: %d of %d characters kept]", TruncatedMarker, 0, total)
	budget := limit - utf16Len(marker) - 8 // room for the kept count's digits
	if budget < 0 {
		budget = 0
	}
	kept, units := len(s), 0
	for i, r := range s {
		n := utf16.RuneLen(r)
		if n < 0 {
			n = 1
		}
		if units+n > budget {
			kept = i
			break
		}
		units += n
	}
	return s[:kept] + fmt.Sprintf("%s: %d of %d characters kept]", TruncatedMarker, units, total)
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if l := utf16.RuneLen(r); l > 0 {
			n += l
		} else {
			n++
		}
	}
	return n
}

// fitEntity halves the largest string property until the entity's strings fit the
// entity size limit. Each property is already within the per-property limit.
func fitEntity(e entity) {
	size := func() (total int, largest string) {
		most := -1
		for name, v := range e {
			if b, ok := v.([]byte); ok {
				total += len(b) + 2*len(name) // binary is never cut, only counted
				continue
			}
			s, ok := v.(string)
			if !ok {
				continue
			}
			n := 2 * utf16Len(s)
			total += n + 2*len(name)
			if n > most && name != "PartitionKey" && name != "RowKey" && !strings.Contains(name, "@") {
				most, largest = n, name
			}
		}
		return total, largest
	}
	for {
		total, largest := size()
		if total <= maxEntityBytes || largest == "" {
			return
		}
		s := e[largest].(string)
		cut := truncateUnits(s, utf16Len(s)/2)
		if len(cut) >= len(s) {
			return // nothing left worth cutting; the service will report the excess
		}
		e[largest] = cut
	}
}
