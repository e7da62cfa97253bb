// Command mapper is the demo plugin that maps a contact record to the destination's shape.
//
// Input:  {"name": "Ada", "email": "ADA@EXAMPLE.COM", ...any other fields}
// Output: {"full_name": "Ada", "email": "ada@example.com",
//
//	"source": {"route": <route>, "correlation_id": <correlation id>},
//	"synced_at": <host clock, RFC 3339 UTC>, "attributes": {...the other fields, as-is}}
//
// "email" is omitted when the input has none. The output is sent as application/json with the header
// X-Sluice-Plugin: demo-mapper. Input that is not a JSON object, or whose "name" or "email" is not a string,
// is rejected.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	sluice "github.com/sluicehq/sluice/sdk/go"
)

func init() { sluice.Handle(mapRecord) }

// main is required by package main but never runs: the host initializes the module through _initialize.
func main() {}

type contact struct {
	FullName   string                     `json:"full_name"`
	Email      string                     `json:"email,omitempty"`
	Source     source                     `json:"source"`
	SyncedAt   string                     `json:"synced_at"`
	Attributes map[string]json.RawMessage `json:"attributes"`
}

type source struct {
	Route         string `json:"route"`
	CorrelationID string `json:"correlation_id"`
}

func mapRecord(m *sluice.Message) ([]byte, error) {
	var fields map[string]json.RawMessage
	var typeErr *json.UnmarshalTypeError
	switch err := json.Unmarshal(m.Body, &fields); {
	case errors.As(err, &typeErr):
		return nil, fmt.Errorf("body is not a JSON object: got %s", typeErr.Value)
	case err != nil:
		return nil, fmt.Errorf("body is not a JSON object: %v", err)
	case fields == nil:
		return nil, sluice.Reject("body is not a JSON object: got null")
	}
	out := contact{
		Source:     source{Route: m.Route(), CorrelationID: m.CorrelationID()},
		SyncedAt:   sluice.Now().Format(time.RFC3339Nano),
		Attributes: fields,
	}
	raw, ok := fields["name"]
	if !ok {
		return nil, sluice.Reject(`"name" is required`)
	}
	if err := json.Unmarshal(raw, &out.FullName); err != nil || string(raw) == "null" {
		return nil, sluice.Reject(`"name" must be a string`)
	}
	if raw, ok := fields["email"]; ok {
		if err := json.Unmarshal(raw, &out.Email); err != nil || string(raw) == "null" {
			return nil, sluice.Reject(`"email" must be a string`)
		}
		out.Email = strings.ToLower(out.Email)
	}
	delete(fields, "name")
	delete(fields, "email")

	body, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding the record: %w", err)
	}
	m.SetContentType("application/json")
	m.SetHeader("X-Sluice-Plugin", "demo-mapper")
	return body, nil
}
