package inventory

import (
	"fmt"

	gojson "github.com/goccy/go-json"
)

// Decode parses a merged inventory as stored (the JSON encoding/json writes for an
// Inventory) for a rematch. It decodes with goccy/go-json, which reads the same JSON
// several times faster than encoding/json: decoding is most of a rematch's
// in-memory cost per image.
func Decode(data []byte) (*Inventory, error) {
	var inv Inventory
	if err := gojson.Unmarshal(data, &inv); err != nil {
		return nil, fmt.Errorf("decoding stored inventory: %w", err)
	}
	return &inv, nil
}
