package store

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// EscapeKey makes s usable as a PartitionKey or RowKey. The Table service forbids
// `/ \ # ?` and the control characters U+0000–U+001F and U+007F–U+009F in keys; those,
// `%` itself, `'` (which the SDK's batch path does not quote in OData key syntax) and
// bytes of invalid UTF-8 are percent-encoded byte by byte. Everything else, including
// other Unicode, is kept so keys stay readable in the portal. [UnescapeKey] reverses it.
func EscapeKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if keyByteNeedsEscape(r, size) {
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// keyByteNeedsEscape reports whether the rune r, encoded in size bytes, must be
// percent-encoded in a key.
func keyByteNeedsEscape(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1: // invalid UTF-8: JSON would replace it
		return true
	case r <= 0x1F, r >= 0x7F && r <= 0x9F:
		return true
	}
	return strings.ContainsRune(`/\#?%'`, r)
}

// UnescapeKey reverses [EscapeKey]. It fails on a `%` not followed by two hex digits.
func UnescapeKey(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("unescaping key %q: truncated escape at offset %d", s, i)
		}
		hi, okHi := unhex(s[i+1])
		lo, okLo := unhex(s[i+2])
		if !okHi || !okLo {
			return "", fmt.Errorf("unescaping key %q: bad escape %q at offset %d", s, s[i:i+3], i)
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// repoKey is the PartitionKey of the images, tags and activity tables:
// "registry/repository", escaped.
func repoKey(registry, repository string) string {
	return EscapeKey(registry + "/" + repository)
}

// odataQuote returns s as an OData string literal.
func odataQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
