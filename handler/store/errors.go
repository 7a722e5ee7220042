package store

import (
	"errors"
	"net/http"

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

// IsPermanent reports whether err is a storage failure that retrying the same call
// cannot fix: a bad message, or a service answer saying the request itself is wrong
// (400 Bad Request, e.g. an entity or property over the service's limits; 411; 413
// Request Entity Too Large). Everything else — 408, 429, 5xx, 409/412 races, network
// errors, a spent context and errors it does not recognise — is not permanent: the
// caller should treat it as transient.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrBadMessage) {
		return true
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	switch re.StatusCode {
	case http.StatusBadRequest, http.StatusLengthRequired, http.StatusRequestEntityTooLarge:
		return true
	}
	return false
}

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
