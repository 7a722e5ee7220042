package match

import "errors"

// ErrUnknownSeverity reports a severity name ParseSeverity does not know.
var ErrUnknownSeverity = errors.New("unknown severity")
