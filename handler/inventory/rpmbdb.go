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
	// bdbMaxPages bounds the pages of one database (with 64 KiB pages, 16 GiB).
	bdbMaxPages = 1 << 18
)

// prepareBerkeleyDB checks a BerkeleyDB hash Packages file and returns the copy
// go-rpmdb should read. go-rpmdb reads only values stored in overflow pages
// (H_OFFPAGE), but libdb keeps a value that fits in the hash page there (H_KEYDATA):
// the headers of small packages (almalinux-gpg-keys, basesystem) would be missed.
// Each such value is moved, in the copy, to new overflow pages at the end of the
// file, and its hash-page item rewritten to point at them, so go-rpmdb parses
// every header with its own code. Every overflow chain is checked first: in range,
// overflow pages only, no page visited twice (go-rpmdb follows a looping chain
// until its timeout, appending to the value all the while).
func prepareBerkeleyDB(data []byte) ([]byte, error) {
	order := binary.ByteOrder(binary.LittleEndian)
	if binary.LittleEndian.Uint32(data[12:]) != bdbHashMagic {
		order = binary.BigEndian
	}
	if len(data) < 36 {
		return nil, fmt.Errorf("a BerkeleyDB file of %d bytes is shorter than its metadata", len(data))
	}
	pageSize := int(order.Uint32(data[20:]))
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return nil, fmt.Errorf("BerkeleyDB page size %d is not a power of two from 512 to 65536", pageSize)
	}
	lastPage := int(order.Uint32(data[32:]))
	pages := len(data) / pageSize
	if lastPage >= pages || lastPage >= bdbMaxPages {
		return nil, fmt.Errorf("BerkeleyDB last page %d is past the file's %d pages", lastPage, pages)
	}
	b := bdbFile{data: data[:(lastPage+1)*pageSize], order: order, pageSize: pageSize, visited: map[int]bool{}}
	var inline [][2]int // (page offset of the item, length) of H_KEYDATA values
	for pg := 1; pg <= lastPage; pg++ {
		page := b.page(pg)
		if t := page[25]; t != bdbHash && t != bdbHashUnsorted {
			continue
		}
		found, err := b.values(pg, page)
		if err != nil {
			return nil, err
		}
		inline = append(inline, found...)
	}
	if len(inline) == 0 {
		return data, nil
	}
	return b.moveInline(inline)
}

// bdbFile is a BerkeleyDB file being checked.
type bdbFile struct {
	data     []byte
	order    binary.ByteOrder
	pageSize int
	// visited holds every overflow page some chain uses.
	visited map[int]bool
}

func (b *bdbFile) page(n int) []byte { return b.data[n*b.pageSize : (n+1)*b.pageSize] }

// values checks the data items of hash page pg and returns its H_KEYDATA values
// (file offset, length, type byte included).
func (b *bdbFile) values(pg int, page []byte) ([][2]int, error) {
	entries := int(b.order.Uint16(page[20:]))
	if entries%2 != 0 || bdbPageHeaderSize+2*entries > b.pageSize {
		return nil, fmt.Errorf("BerkeleyDB hash page %d has %d entries", pg, entries)
	}
	var inline [][2]int
	end := b.pageSize
	for i := 0; i < entries; i++ {
		off := int(b.order.Uint16(page[bdbPageHeaderSize+2*i:]))
		if off < bdbPageHeaderSize+2*entries || off >= end {
			return nil, fmt.Errorf("BerkeleyDB hash page %d item %d is at offset %d, outside the page's items", pg, i, off)
		}
		item := page[off:end]
		end = off
		if i%2 == 0 {
			continue // a key (the package number)
		}
		switch item[0] {
		case bdbKeyData:
			inline = append(inline, [2]int{pg*b.pageSize + off, len(item)})
		case bdbOffPage:
			if len(item) < bdbOffPageSize {
				return nil, fmt.Errorf("BerkeleyDB hash page %d item %d is too short for an overflow reference", pg, i)
			}
			if err := b.checkChain(int(b.order.Uint32(item[4:]))); err != nil {
				return nil, fmt.Errorf("BerkeleyDB hash page %d item %d: %w", pg, i, err)
			}
		}
	}
	return inline, nil
}

// checkChain follows an overflow chain from page first, as go-rpmdb will, and
// checks that it ends, within the file, on overflow pages no other chain uses.
func (b *bdbFile) checkChain(first int) error {
	lastPage := len(b.data)/b.pageSize - 1
	for pg := first; pg != 0; {
		if pg > lastPage || b.visited[pg] {
			return fmt.Errorf("overflow chain from page %d reaches page %d again or past the last page %d", first, pg, lastPage)
		}
		b.visited[pg] = true
		page := b.page(pg)
		if page[25] != bdbOverflow {
			return fmt.Errorf("overflow chain from page %d reaches page %d of type %d", first, pg, page[25])
		}
		next := int(b.order.Uint32(page[16:]))
		if next == 0 && bdbPageHeaderSize+int(b.order.Uint16(page[22:])) > b.pageSize {
			return fmt.Errorf("overflow page %d claims more bytes than the page holds", pg)
		}
		pg = next
	}
	return nil
}

// moveInline returns a copy of the file in which each inline value (file offset
// and length of its item) lives in new overflow pages appended to the file, its
// item now an H_OFFPAGE reference to them, and the metadata's last page updated.
// An item shorter than a reference is left alone: it holds no rpm header.
func (b *bdbFile) moveInline(inline [][2]int) ([]byte, error) {
	room := b.pageSize - bdbPageHeaderSize
	extra := 0
	for _, v := range inline {
		extra += max(1, (v[1]-1+room-1)/room)
	}
	next := len(b.data) / b.pageSize
	if next+extra > bdbMaxPages {
		return nil, fmt.Errorf("BerkeleyDB file would need %d pages, more than %d", next+extra, bdbMaxPages)
	}
	out := make([]byte, len(b.data)+extra*b.pageSize)
	copy(out, b.data)
	for _, v := range inline {
		off, length := v[0], v[1]
		if length < bdbOffPageSize {
			continue
		}
		value := b.data[off+1 : off+length]
		first := next
		for start := 0; ; start += room {
			chunk := value[start:min(start+room, len(value))]
			page := out[next*b.pageSize : (next+1)*b.pageSize]
			b.order.PutUint32(page[8:], uint32(next))
			if next != first {
				b.order.PutUint32(page[12:], uint32(next-1))
			}
			last := start+room >= len(value)
			if !last {
				b.order.PutUint32(page[16:], uint32(next+1))
			}
			b.order.PutUint16(page[20:], 1)
			b.order.PutUint16(page[22:], uint16(len(chunk)))
			page[25] = bdbOverflow
			copy(page[bdbPageHeaderSize:], chunk)
			next++
			if last {
				break
			}
		}
		ref := out[off : off+bdbOffPageSize]
		clear(ref)
		ref[0] = bdbOffPage
		b.order.PutUint32(ref[4:], uint32(first))
		b.order.PutUint32(ref[8:], uint32(len(value)))
	}
	out = out[:next*b.pageSize]
	b.order.PutUint32(out[32:], uint32(next-1))
	return out, nil
}
