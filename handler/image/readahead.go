package image

import (
	"errors"
	"io"
)

// readAheadChunks is how many chunks (of chunkBytes) a readAhead decompresses ahead
// of its reader.
const readAheadChunks = 4

// readAhead reads r (the decompressor) on a second goroutine into a bounded ring
// of reused chunks, so gunzip overlaps what the walk does with the bytes (tar
// headers, extractors). Its reader sees r's bytes in order, then r's error (io.EOF
// included), exactly as r would give them. Everything r reads (the blob, its
// digest) belongs to that goroutine until close returns. It is read by one
// goroutine, which must call close.
type readAhead struct {
	full  chan readAheadChunk // filled chunks, in order
	free  chan []byte         // consumed chunks, to refill
	stop  chan struct{}
	done  chan struct{}
	cur   []byte // the unread rest of the chunk being read
	owned []byte // that chunk, to hand back once read
	err   error  // r's error, once received
	ring  []*[chunkBytes]byte
}

type readAheadChunk struct {
	b   []byte
	err error
}

func newReadAhead(r io.Reader) *readAhead {
	a := &readAhead{
		full: make(chan readAheadChunk, readAheadChunks),
		free: make(chan []byte, readAheadChunks),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	for range readAheadChunks {
		c := chunkPool.Get().(*[chunkBytes]byte)
		a.ring = append(a.ring, c)
		a.free <- c[:]
	}
	go a.fill(r)
	return a
}

// fill runs on its own goroutine: it fills chunks from r until r fails or ends
// (that error travels with the last chunk) or close asks it to stop.
func (a *readAhead) fill(r io.Reader) {
	defer close(a.done)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.stop:
			return
		}
		n, err := 0, error(nil)
		for n < len(buf) && err == nil {
			var k int
			k, err = r.Read(buf[n:])
			n += k
		}
		select {
		case a.full <- readAheadChunk{buf[:n], err}:
		case <-a.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read implements io.Reader.
func (a *readAhead) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.owned != nil {
			a.free <- a.owned[:cap(a.owned)] // room for every chunk: never blocks
			a.owned = nil
		}
		if a.err != nil {
			return 0, a.err
		}
		c := <-a.full
		a.cur, a.owned, a.err = c.b, c.b, c.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// close stops the filling goroutine and waits for it (and so for r's current Read
// to return); after it, r and what it reads may be used again on the calling
// goroutine. It may be called more than once.
func (a *readAhead) close() {
	if a.ring == nil {
		return
	}
	close(a.stop)
	<-a.done
	for _, c := range a.ring {
		chunkPool.Put(c)
	}
	a.ring, a.cur, a.owned = nil, nil, nil
	if a.err == nil {
		a.err = errReadAfterClose
	}
}

var errReadAfterClose = errors.New("read ahead: read after close")
