// Command validator is the demo plugin that checks a contact record before it is sent on.
//
// It passes the body through unchanged if it is a JSON object with a non-empty string "name" and, when
// "email" is present, a string "email" containing "@". Anything else is rejected with a message that names
// the offending field.
package main

import (
	"encoding/json"
	"fmt"
	"strings"

	sluice "github.com/sluicehq/sluice/sdk/go"
)

func init() { sluice.Handle(validate) }

// main is required by package main but never runs: the host initializes the module through _initialize.
func main() {}

func validate(m *sluice.Message) ([]byte, error) {
	var body any
	if err := json.Unmarshal(m.Body, &body); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %v", err)
	}
	record, ok := body.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("body is not a JSON object: got %s", kind(body))
	}

	name, ok := record["name"]
	if !ok {
		return nil, sluice.Reject(`"name" is required`)
	}
	s, ok := name.(string)
	if !ok {
		return nil, fmt.Errorf(`"name" must be a string, got %s`, kind(name))
	}
	if s == "" {
		return nil, sluice.Reject(`"name" must not be empty`)
	}

	if email, ok := record["email"]; ok {
		s, ok := email.(string)
		if !ok {
			return nil, fmt.Errorf(`"email" must be a string, got %s`, kind(email))
		}
		if !strings.Contains(s, "@") {
			return nil, sluice.Reject(`"email" must contain "@"`)
		}
	}
	return m.Body, nil
}

// kind names the JSON type of a value decoded into an any.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
