package image

import (
	"errors"
	"fmt"
)

// ErrMalformed marks a permanent failure: the input is not an image, is truncated,
// or a blob does not match its digest. Retrying cannot help.
var ErrMalformed = errors.New("malformed image")

// ErrLimitExceeded marks a layer rejected by a safety cap (total uncompressed bytes,
// entry count, or bytes read from one file). Errors carrying it also match ErrMalformed.
var ErrLimitExceeded = errors.New("limit exceeded")

// ErrDiffIDMismatch marks a layer whose uncompressed stream does not hash to the
// diffID its image config claims: a results cache keyed by that diffID must not
// trust it. Errors carrying it also match ErrMalformed.
var ErrDiffIDMismatch = fmt.Errorf("layer does not match the diffID its config claims: %w", ErrMalformed)

// ErrNothingToScan marks a reference that resolves to no platform image: every entry
// of its index is an artifact, an attestation, an unknown platform or not an image
// manifest. Errors carrying it also match ErrMalformed.
var ErrNothingToScan = fmt.Errorf("nothing to scan: %w", ErrMalformed)
