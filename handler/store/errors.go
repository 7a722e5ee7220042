package store

import (
	"errors"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// ErrNotFound reports that an entity or blob does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict reports that an entity changed (or appeared) since it was read: the
// caller's ETag no longer matches. Re-read and retry.
var ErrConflict = errors.New("entity changed concurrently")

// ErrBadMessage marks a queue message that can never be processed (undecodable,
// unknown version, missing fields). Consumers record it and do not retry.
var ErrBadMessage = errors.New("bad message")

// hasCode reports whether err is a service error with one of the given codes.
func hasCode(err error, codes ...string) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	for _, c := range codes {
		if re.ErrorCode == c {
			return true
		}
	}
	return false
}

// hasStatus reports whether err is a service error with the given HTTP status.
func hasStatus(err error, status int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}
