package host

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// maxQuoting bounds how many JSON string encodings unquote peels off. The host adds at
// most two; a little headroom keeps a producer's own quoting from becoming an error.
const maxQuoting = 4

// unquote decodes raw when it is a JSON string, and keeps decoding while the result is
// itself a JSON string literal: the host runs JsonConvert.SerializeObject on scalars
// before serialising the envelope, so "1" arrives as "\"1\"" and text as "\"text\"".
// isString reports whether raw was a JSON string at all.
func unquote(raw json.RawMessage) (text string, isString bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false, nil
	}
	for range maxQuoting {
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", true, fmt.Errorf("decoding JSON string: %w", err)
		}
		if !isStringLiteral(text) {
			break
		}
		raw = json.RawMessage(text)
	}
	return text, true, nil
}

// isStringLiteral reports whether s is exactly one JSON string, quotes included.
func isStringLiteral(s string) bool {
	return len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' && json.Valid([]byte(s))
}

// isNull reports whether raw is absent or the JSON literal null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}
