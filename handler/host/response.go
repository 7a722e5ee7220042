package host

import "encoding/json"

// Response is the body a custom handler returns to the host.
type Response struct {
	// Outputs holds output binding values by binding name; Tidewatch uses none.
	Outputs map[string]json.RawMessage `json:"Outputs"`
	// Logs are written by the host to the invocation's log at Information level.
	Logs []string `json:"Logs"`
	// ReturnValue is the $return binding value; null when unused.
	ReturnValue json.RawMessage `json:"ReturnValue"`
}

// MarshalJSON writes absent fields as {}, [] and null: the host deserialises the body
// into its result type and the documented shape always has all three.
func (r Response) MarshalJSON() ([]byte, error) {
	type plain Response
	if r.Outputs == nil {
		r.Outputs = map[string]json.RawMessage{}
	}
	if r.Logs == nil {
		r.Logs = []string{}
	}
	if len(r.ReturnValue) == 0 {
		r.ReturnValue = json.RawMessage("null")
	}
	return json.Marshal(plain(r))
}
