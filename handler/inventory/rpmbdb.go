package inventory

import (
	"encoding/binary"
	"fmt"
)

// BerkeleyDB hash database layout (libdb dbinc/db_page.h), as rpm's Packages uses it.
const (
	bdbHashMagic      = 0x00061561
	bdbPageHeaderSize = 26
	bdbHashUnsorted   = 2  // P_HASH_UNSORTED: hash pages before libdb 4.6
	bdbOverflow       = 7  // P_OVERFLOW
	bdbHash           = 13 // P_HASH
	bdbKeyData        = 1  // H_KEYDATA: a value stored in the hash page itself
	bdbOffPage        = 3  // H_OFFPAGE: a value stored in a chain of overflow pages
	bdbOffPageSize    = 12 // type, 3 unused bytes, first page, total length
)

// bdbHeaders returns the values of a BerkeleyDB hash Packages file (one rpm header
// each), in page order. Both kinds of value are read: those in overflow page chains
// (H_OFFPAGE) and those small enough to stay in the hash page (H_KEYDATA, the
// headers of small packages such as almalinux-gpg-keys or basesystem, which
// go-rpmdb's own BerkeleyDB reader skips). Every chain must stay in the file, use
// overflow pages only, visit no page twice and add up to the length its reference
// states; otherwise the file is refused.
func bdbHeaders(data []byte) ([][]byte, error) {
	if len(data) < 36 {
		return nil, fmt.Errorf("a BerkeleyDB file of %d bytes is shorter than its metadata", len(data))
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if binary.LittleEndian.Uint32(data[12:]) != bdbHashMagic {
		order = binary.BigEndian
	}
	pageSize := int(order.Uint32(data[20:]))
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return nil, fmt.Errorf("BerkeleyDB page size %d is not a power of two from 512 to 65536", pageSize)
	}
	lastPage := int(order.Uint32(data[32:]))
	if pages := len(data) / pageSize; lastPage >= pages {
		return nil, fmt.Errorf("BerkeleyDB last page %d is past the file's %d pages", lastPage, pages)
	}
	b := bdbFile{data: data[:(lastPage+1)*pageSize], order: order, pageSize: pageSize, visited: map[int]bool{}}
	var headers [][]byte
	for pg := 1; pg <= lastPage; pg++ {
		page := b.page(pg)
		if t := page[25]; t != bdbHash && t != bdbHashUnsorted {
			continue
		}
		found, err := b.values(pg, page)
		if err != nil {
			return nil, err
		}
		headers = append(headers, found...)
	}
	return headers, nil
}

// bdbFile is a BerkeleyDB file being read.
type bdbFile struct {
	data     []byte
	order    binary.ByteOrder
	pageSize int
	// visited holds every overflow page a chain used.
	visited map[int]bool
}

func (b *bdbFile) page(n int) []byte { return b.data[n*b.pageSize : (n+1)*b.pageSize] }

// values returns the data items of hash page pg but the one under key 0. Items are
// stored from the end of the page down, pairs of key (the package number) and
// value, and an item's length is the distance to the item before it (libdb's
// LEN_HITEM).
func (b *bdbFile) values(pg int, page []byte) ([][]byte, error) {
	entries := int(b.order.Uint16(page[20:]))
	if entries%2 != 0 || bdbPageHeaderSize+2*entries > b.pageSize {
		return nil, fmt.Errorf("BerkeleyDB hash page %d has %d entries", pg, entries)
	}
	var out [][]byte
	end := b.pageSize
	counter := false
	for i := 0; i < entries; i++ {
		off := int(b.order.Uint16(page[bdbPageHeaderSize+2*i:]))
		if off < bdbPageHeaderSize+2*entries || off >= end {
			return nil, fmt.Errorf("BerkeleyDB hash page %d item %d is at offset %d, outside the page's items", pg, i, off)
		}
		item := page[off:end]
		end = off
		if i%2 == 0 {
			// rpm keeps its next package number under key 0, not a header.
			counter = len(item) == 5 && item[0] == bdbKeyData && b.order.Uint32(item[1:]) == 0
			continue
		}
		if counter {
			continue
		}
		switch item[0] {
		case bdbKeyData:
			out = append(out, item[1:])
		case bdbOffPage:
			if len(item) < bdbOffPageSize {
				return nil, fmt.Errorf("BerkeleyDB hash page %d item %d is too short for an overflow reference", pg, i)
			}
			value, err := b.chain(int(b.order.Uint32(item[4:])), int(b.order.Uint32(item[8:])))
			if err != nil {
				return nil, fmt.Errorf("BerkeleyDB hash page %d item %d: %w", pg, i, err)
			}
			out = append(out, value)
		default:
			// rpm's Packages holds no duplicates (H_DUPLICATE, H_OFFDUP).
			return nil, fmt.Errorf("BerkeleyDB hash page %d item %d is of type %d, not a package header", pg, i, item[0])
		}
	}
	return out, nil
}

// chain reads the value of length bytes stored in the overflow chain starting at
// page first: each page holds its share after the header, its length in the
// header's free-offset field (libdb's OV_LEN).
func (b *bdbFile) chain(first, length int) ([]byte, error) {
	lastPage := len(b.data)/b.pageSize - 1
	if length > len(b.data) {
		return nil, fmt.Errorf("overflow value of %d bytes is longer than the file", length)
	}
	value := make([]byte, 0, length)
	for pg := first; pg != 0; {
		if pg > lastPage || b.visited[pg] {
			return nil, fmt.Errorf("overflow chain from page %d reaches page %d again or past the last page %d", first, pg, lastPage)
		}
		b.visited[pg] = true
		page := b.page(pg)
		if page[25] != bdbOverflow {
			return nil, fmt.Errorf("overflow chain from page %d reaches page %d of type %d", first, pg, page[25])
		}
		n := int(b.order.Uint16(page[22:]))
		if bdbPageHeaderSize+n > b.pageSize || len(value)+n > length {
			return nil, fmt.Errorf("overflow page %d holds more than its page or its value", pg)
		}
		value = append(value, page[bdbPageHeaderSize:bdbPageHeaderSize+n]...)
		pg = int(b.order.Uint32(page[16:]))
	}
	if len(value) != length {
		return nil, fmt.Errorf("overflow chain from page %d holds %d bytes, its reference says %d", first, len(value), length)
	}
	return value, nil
}
