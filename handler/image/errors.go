package image

import "errors"

// ErrMalformed marks a permanent failure: the input is not an image, is truncated,
// or a blob does not match its digest. Retrying cannot help.
var ErrMalformed = errors.New("malformed image")

// ErrLimitExceeded marks a layer rejected by a safety cap (total uncompressed bytes,
// entry count, or bytes read from one file). Errors carrying it also match ErrMalformed.
var ErrLimitExceeded = errors.New("limit exceeded")
