package loganalytics

import (
	"errors"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// ErrPartial reports that the service returned a partial result (for example a query
// that ran out of time or memory part way): the rows are incomplete and were dropped.
var ErrPartial = errors.New("log analytics returned a partial result")

// ErrMalformed reports a result Tidewatch cannot read: a missing column, or a cell of
// the wrong type.
var ErrMalformed = errors.New("malformed log analytics result")

// IsPermanent reports whether asking again cannot help: the request itself was
// refused (400 bad query, 401/403 missing Log Analytics Reader, 404 no such
// workspace) or the result cannot be read. Everything else (429, 5xx, timeouts,
// partial results, network errors) is transient.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrMalformed) {
		return true
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return true
		}
	}
	return false
}
