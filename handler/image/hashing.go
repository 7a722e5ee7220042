package image

import (
	"hash"
	"sync"
)

// chunkBytes is the size of the chunks an asyncHash or a readAhead hands between
// goroutines.
const chunkBytes = 256 << 10

// hashChunks is the length of an asyncHash's ring. Hashing (SHA-NI, ~2 GB/s)
// outruns gunzip, so a short ring keeps the hasher busy; the ring only has to
// absorb the scheduler handing the cores to someone else a while.
const hashChunks = 4

// chunkPool holds the rings' chunks between walks, so a scan of many small layers
// does not allocate (and zero) fresh rings per layer.
var chunkPool = sync.Pool{New: func() any { return new([chunkBytes]byte) }}

// asyncHash is a hash.Hash's Write moved to a second goroutine, so that hashing a
// stream overlaps producing it (gunzip, tar walk, extractors). Write copies p into
// the ring (the caller may reuse p at once) and blocks only when every chunk is
// still waiting to be hashed, so memory is bounded by the ring whatever the stream's
// size. Sum waits for every written byte to be hashed: a verdict is never reached
// on a prefix. It is used by one goroutine (the walk's); close ends the hasher.
type asyncHash struct {
	h      hash.Hash
	chunk  []byte      // the chunk being filled; nil until the first Write after a hand-off
	full   chan []byte // chunks to hash, in order
	free   chan []byte // hashed chunks, to refill
	done   chan struct{}
	closed bool
	owned  []*[chunkBytes]byte // the ring, returned to chunkPool by close
}

func newAsyncHash(h hash.Hash) *asyncHash {
	a := &asyncHash{
		h:    h,
		full: make(chan []byte, hashChunks),
		free: make(chan []byte, hashChunks),
		done: make(chan struct{}),
	}
	for range hashChunks {
		c := chunkPool.Get().(*[chunkBytes]byte)
		a.owned = append(a.owned, c)
		a.free <- c[:0]
	}
	go a.hash()
	return a
}

// hash runs on its own goroutine: it hashes chunks in the order written and hands
// each back. free has room for every chunk, so handing back never blocks.
func (a *asyncHash) hash() {
	defer close(a.done)
	for c := range a.full {
		a.h.Write(c)
		a.free <- c[:0]
	}
}

// Write implements io.Writer; it never fails. After close it hashes p itself.
func (a *asyncHash) Write(p []byte) (int, error) {
	if a.closed {
		return a.h.Write(p)
	}
	n := len(p)
	for len(p) > 0 {
		if a.chunk == nil {
			a.chunk = <-a.free
		}
		k := copy(a.chunk[len(a.chunk):cap(a.chunk)], p)
		a.chunk = a.chunk[:len(a.chunk)+k]
		p = p[k:]
		if len(a.chunk) == cap(a.chunk) {
			a.full <- a.chunk
			a.chunk = nil
		}
	}
	return n, nil
}

// Sum returns the hash of every byte written so far, waiting for the hasher to
// finish them; it closes the hasher, and later Writes are hashed synchronously.
func (a *asyncHash) Sum() []byte {
	a.close()
	return a.h.Sum(nil)
}

// close hands over the partly filled chunk, waits for the hasher to drain the ring
// and stop, and returns the ring to the pool. It may be called more than once (a
// walk defers it and also calls Sum).
func (a *asyncHash) close() {
	if a.closed {
		return
	}
	if len(a.chunk) > 0 {
		a.full <- a.chunk
	}
	a.chunk = nil
	close(a.full)
	<-a.done
	a.closed = true
	for _, c := range a.owned {
		chunkPool.Put(c)
	}
	a.owned = nil
}
