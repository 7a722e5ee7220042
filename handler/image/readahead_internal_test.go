package image

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// pieces yields stream in reads of random sizes, then fails with end.
type pieces struct {
	rest  []byte
	rng   *rand.Rand
	end   error
	reads int
}

func (p *pieces) Read(b []byte) (int, error) {
	p.reads++
	if len(p.rest) == 0 {
		return 0, p.end
	}
	n := min(len(b), len(p.rest), 1+p.rng.IntN(3*chunkBytes/2))
	copy(b, p.rest[:n])
	p.rest = p.rest[n:]
	return n, nil
}

func TestReadAheadGivesTheBytesInOrderThenTheSourcesError(t *testing.T) {
	errBroken := errors.New("connection reset by peer")
	tests := []struct {
		name string
		size int
		end  error
	}{
		{"a stream of many chunks ending in EOF", readAheadChunks*chunkBytes*3 + 999, io.EOF},
		{"a stream ending exactly on a chunk boundary", 5 * chunkBytes, io.EOF},
		{"an empty stream", 0, io.EOF},
		{"a stream that breaks after many chunks", readAheadChunks*chunkBytes*2 + 17, errBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			stream := make([]byte, tt.size)
			for i := range stream {
				stream[i] = byte(rng.Uint32())
			}
			a := newReadAhead(&pieces{rest: stream, rng: rand.New(rand.NewPCG(9, 10)), end: tt.end}) // its own rng: it reads on the filler
			defer a.close()
			var got []byte
			buf := make([]byte, 3*chunkBytes)
			var err error
			for err == nil {
				var n int
				n, err = a.Read(buf[:1+rng.IntN(len(buf))])
				got = append(got, buf[:n]...)
			}
			if !errors.Is(err, tt.end) {
				t.Fatalf("read ended with %v, want %v", err, tt.end)
			}
			if !bytes.Equal(got, stream) {
				t.Fatalf("read %d bytes, not the %d of the stream in order", len(got), len(stream))
			}
			if n, err := a.Read(buf); n != 0 || !errors.Is(err, tt.end) {
				t.Errorf("a read after the end = %d, %v; want 0, %v again", n, err, tt.end)
			}
		})
	}
}

// After close returns, the source is not read any more: the walk may use it (and
// what it has counted and hashed) on its own goroutine.
func TestReadAheadCloseStopsReadingTheSource(t *testing.T) {
	src := &pieces{rest: make([]byte, 100*chunkBytes), rng: rand.New(rand.NewPCG(7, 8)), end: io.EOF}
	a := newReadAhead(src)
	if _, err := io.ReadFull(a, make([]byte, chunkBytes/2)); err != nil {
		t.Fatal(err)
	}
	a.close() // the filler is blocked on a full ring or reading: either way it stops
	reads := src.reads
	if reads == 0 || len(src.rest) == 0 {
		t.Fatalf("source read %d times with %d bytes left, want a partial read", reads, len(src.rest))
	}
	if _, err := a.Read(make([]byte, 10)); err == nil {
		t.Error("a read after close succeeded")
	}
	a.close()
	if src.reads != reads {
		t.Errorf("the source was read %d more times after close", src.reads-reads)
	}
}
