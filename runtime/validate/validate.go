// Package validate checks messages against a route's JSON Schema (2020-12 by
// default) before they are accepted. Schemas are compiled once, at load.
package validate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// CodeFailed is the error code of a message that breaks its route's schema
// (or that a validator plugin rejected): it is never stored.
const CodeFailed = "validation_failed"

// Schema is a compiled JSON Schema. Safe for concurrent use.
type Schema struct {
	Path string
	s    *jsonschema.Schema
}

// Violation is one way a message breaks its schema: where (a JSON pointer
// into the message; "" is the whole message) and what.
type Violation struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// Compile reads and compiles the schema at path. Errors name the file and,
// for a bad schema, the location inside it.
func Compile(path string) (*Schema, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- a route's validate.schema, from the operator's config
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", path, err)
	}
	return CompileBytes(path, b)
}

// CompileBytes compiles a schema held in memory; name labels errors.
func CompileBytes(name string, b []byte) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("schema %s: not JSON: %w", name, err)
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	url := "file://" + filepath.ToSlash(abs)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %s", name, strings.ReplaceAll(err.Error(), url, ""))
	}
	return &Schema{Path: name, s: s}, nil
}

var printer = message.NewPrinter(language.English)

// ErrNotJSON is returned (wrapped) for a body that is not JSON.
var ErrNotJSON = errors.New("not JSON")

// Check validates body and returns every violation, sorted by pointer (none:
// valid). A body that is not JSON is one violation at "".
func (s *Schema) Check(body []byte) []Violation {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return []Violation{{Pointer: "", Message: fmt.Sprintf("the body is not JSON: %v", err)}}
	}
	err = s.s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Message: err.Error()}}
	}
	var out []Violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, Violation{Pointer: pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}

// pointer builds an RFC 6901 JSON pointer.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}
