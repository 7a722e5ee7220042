package feed

import (
	"encoding/json"
	"fmt"
	"time"
)

// PointerName is the blob naming the current generation.
const PointerName = "current.json"

// keptGenerations is how many generations' blobs are kept: the current one and
// two before it, so a worker still loading the previous generation finds it.
const keptGenerations = 3

// Pointer is the content of current.json: one consistent generation.
type Pointer struct {
	// Generation identifies this generation; ids sort by creation time.
	Generation string `json:"generation"`
	// RetrievedAt is when this generation was built.
	RetrievedAt time.Time `json:"retrievedAt"`
	// CheckedAt is the oldest successful check of any folder against the source:
	// what freshness (TIDEWATCH_MAX_DB_AGE) counts from.
	CheckedAt time.Time `json:"checkedAt"`
	// Folders are the verified folders by name.
	Folders map[string]Folder `json:"folders"`
	// Previous are the older generations still kept, newest first.
	Previous []Kept `json:"previous,omitempty"`
}

// Folder is one verified folder of a generation.
type Folder struct {
	// Blob is the folder's .idx blob; an unchanged folder keeps an older one.
	Blob string `json:"blob"`
	// Records is the number of accepted records; Rejected those left out.
	Records  int `json:"records"`
	Rejected int `json:"rejected"`
	// Validators are what the source said of the archive the blob was built from.
	Validators
	// RetrievedAt is when the archive was downloaded; CheckedAt when the source
	// last confirmed it (a 304 refreshes it).
	RetrievedAt time.Time `json:"retrievedAt"`
	CheckedAt   time.Time `json:"checkedAt"`
}

// Kept is an older generation whose blobs are still kept.
type Kept struct {
	Generation string   `json:"generation"`
	Blobs      []string `json:"blobs"`
}

// blobs lists the blobs the pointer's own generation uses.
func (p *Pointer) blobs() []string {
	out := make([]string, 0, len(p.Folders))
	for _, f := range p.Folders {
		out = append(out, f.Blob)
	}
	return out
}

// decodePointer parses current.json.
func decodePointer(data []byte) (*Pointer, error) {
	var p Pointer
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", PointerName, err)
	}
	if p.Generation == "" {
		return nil, fmt.Errorf("decoding %s: no generation", PointerName)
	}
	return &p, nil
}

// blobName is where a folder's index of a generation is written.
func blobName(folder, generation string) string {
	return folder + "/" + generation + ".idx"
}
