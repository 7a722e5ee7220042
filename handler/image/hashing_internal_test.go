package image

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// TestAsyncHashSumsEveryByteWrittenWhateverTheWriteSizes checks the ring against
// crypto/sha256 over the same bytes: writes smaller than, equal to and larger than
// a chunk, straddling chunk boundaries, from a buffer the caller overwrites as soon
// as Write returns (as tar and bufio do with theirs).
func TestAsyncHashSumsEveryByteWrittenWhateverTheWriteSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	stream := make([]byte, hashChunks*chunkBytes*3+12345)
	for i := range stream {
		stream[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name  string
		sizes func() int
	}{
		{"one-byte writes", func() int { return 1 }},
		{"tar-block writes", func() int { return 512 }},
		{"writes of exactly one chunk", func() int { return chunkBytes }},
		{"writes just over one chunk", func() int { return chunkBytes + 1 }},
		{"writes larger than the whole ring", func() int { return hashChunks*chunkBytes + 7 }},
		{"writes of random sizes", func() int { return 1 + rng.IntN(3*chunkBytes) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := sha256.Sum256(stream)
			h := newAsyncHash(sha256.New())
			defer h.close()
			scratch := make([]byte, 0, len(stream))
			for rest := stream; len(rest) > 0; {
				n := min(tt.sizes(), len(rest))
				scratch = append(scratch[:0], rest[:n]...)
				if k, err := h.Write(scratch); k != n || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", k, err, n)
				}
				clear(scratch) // the caller reuses its buffer at once
				rest = rest[n:]
			}
			if got := h.Sum(); !bytes.Equal(got, want[:]) {
				t.Fatalf("Sum = %x, want %x", got, want)
			}
		})
	}
}

func TestAsyncHashOfNothingIsTheEmptyDigest(t *testing.T) {
	want := sha256.Sum256(nil)
	if got := newAsyncHash(sha256.New()).Sum(); !bytes.Equal(got, want[:]) {
		t.Fatalf("Sum = %x, want %x", got, want)
	}
}

// After Sum (a walk's verdict), a stray Write is hashed synchronously and the next
// Sum covers it: nothing written is ever left out of a digest.
func TestAsyncHashWritesAfterSumAreStillHashed(t *testing.T) {
	h := newAsyncHash(sha256.New())
	h.Write([]byte("before "))
	first := h.Sum()
	if want := sha256.Sum256([]byte("before ")); !bytes.Equal(first, want[:]) {
		t.Fatalf("first Sum = %x, want %x", first, want)
	}
	h.Write([]byte("after"))
	if got, want := h.Sum(), sha256.Sum256([]byte("before after")); !bytes.Equal(got, want[:]) {
		t.Fatalf("second Sum = %x, want %x", got, want)
	}
	h.close() // a deferred close after Sum is harmless
}
