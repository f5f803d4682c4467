package fhir

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaJSON is HL7's FHIR R4 JSON schema (4.0.1), as published.
//
//go:embed fhir.schema.json
var schemaJSON []byte

const schemaURL = "http://hl7.org/fhir/json-schema/4.0"

var (
	schemaOnce sync.Once
	schemas    map[string]*jsonschema.Schema
	schemaErr  error
	// patternTypes names the primitive type (dateTime, id, code, ...) of
	// each pattern the schema uses, to say "not a valid FHIR dateTime"
	// rather than quote a regular expression.
	patternTypes map[string]string
)

// resourceTypes are the definitions Tend validates: what it reads
// (Observation) and what it answers (OperationOutcome, checked in tests).
var resourceTypes = []string{"Observation", "OperationOutcome"}

// Prepare compiles the schema, so the first Observation does not wait for
// it (about a second); the server calls it at start-up in the background.
// Calling it again, or validating, uses the compiled schema.
func Prepare() error {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			schemaErr = fmt.Errorf("fhir schema: %w", err)
			return
		}
		doc = prune(doc, resourceTypes)
		patternTypes = map[string]string{}
		if defs, ok := doc.(map[string]any)["definitions"].(map[string]any); ok {
			for name, d := range defs {
				if p, ok := d.(map[string]any)["pattern"].(string); ok {
					if old, dup := patternTypes[p]; !dup || name < old {
						patternTypes[p] = name
					}
				}
			}
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(schemaURL, doc); err != nil {
			schemaErr = fmt.Errorf("fhir schema: %w", err)
			return
		}
		schemas = map[string]*jsonschema.Schema{}
		for _, t := range resourceTypes {
			s, err := c.Compile(schemaURL + "#/definitions/" + t)
			if err != nil {
				schemaErr = fmt.Errorf("fhir schema %s: %w", t, err)
				return
			}
			schemas[t] = s
		}
	})
	return schemaErr
}

// maxIssues bounds an OperationOutcome: a resource that is wrong
// everywhere needs its first problems fixed, not a page of them.
const maxIssues = 10

// validate checks doc (decoded by jsonschema.UnmarshalJSON) against the
// schema of resourceType; the error is an *Error naming each element at
// fault.
func validate(resourceType string, doc any) error {
	if err := Prepare(); err != nil {
		return err
	}
	err := schemas[resourceType].Validate(doc)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var issues []Issue
	seen := map[string]bool{}
	printer := message.NewPrinter(language.English)
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		for _, i := range issuesOf(resourceType, e, printer) {
			key := i.Expression[0] + "\x00" + i.Diagnostics
			if !seen[key] {
				seen[key] = true
				issues = append(issues, i)
			}
		}
	}
	walk(ve)
	sort.SliceStable(issues, func(a, b int) bool { return issues[a].Expression[0] < issues[b].Expression[0] })
	if len(issues) > maxIssues {
		issues = issues[:maxIssues]
	}
	return &Error{Outcome: Outcome(issues...)}
}

// issueCode maps a schema keyword to FHIR's issue type.
func issueCode(k jsonschema.ErrorKind) string {
	switch k.(type) {
	case *kind.Required:
		return "required"
	case *kind.AdditionalProperties, *kind.Type:
		return "structure"
	case *kind.Enum, *kind.Const, *kind.Pattern, *kind.MinLength, *kind.MaxLength,
		*kind.Minimum, *kind.Maximum, *kind.Format:
		return "value"
	}
	return "invalid"
}

// expression writes an instance location as FHIRPath:
// [component 0 valueQuantity value] is
// "Observation.component[0].valueQuantity.value".
func expression(resourceType string, loc []string) string {
	var b strings.Builder
	b.WriteString(resourceType)
	for _, p := range loc {
		if _, err := strconv.Atoi(p); err == nil {
			b.WriteString("[" + p + "]")
			continue
		}
		b.WriteString("." + p)
	}
	return b.String()
}

// issuesOf turns one schema error into issues naming the element: a
// missing or unknown property is named itself ("Observation.code", not
// "Observation" with the name in the text), and a value that does not
// match a primitive's pattern names the FHIR type rather than quoting the
// pattern's regular expression.
func issuesOf(resourceType string, e *jsonschema.ValidationError, p *message.Printer) []Issue {
	at := expression(resourceType, e.InstanceLocation)
	code := issueCode(e.ErrorKind)
	one := func(exp, diag string) Issue {
		return Issue{Severity: "error", Code: code, Diagnostics: diag, Expression: []string{exp}}
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		out := make([]Issue, len(k.Missing))
		for i, m := range k.Missing {
			out[i] = one(at+"."+m, "missing")
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]Issue, len(k.Properties))
		for i, m := range k.Properties {
			out[i] = one(at+"."+m, "not an element of "+resourceType+" in FHIR R4")
		}
		return out
	case *kind.Pattern:
		if typ, ok := patternTypes[k.Want]; ok {
			return []Issue{one(at, fmt.Sprintf("%q is not a valid FHIR %s", k.Got, typ))}
		}
	}
	return []Issue{one(at, e.ErrorKind.LocalizedString(p))}
}

// prune keeps of the schema document only the definitions the given
// types reach through "$ref", and cuts ResourceList (any resource, which
// reaches every definition: compiling it takes seconds, tens of seconds
// under the race detector) down to "an object with a resourceType": a
// contained resource is not validated, and Tend reads none. Every other
// definition kept is HL7's, unchanged.
func prune(doc any, types []string) any {
	root, ok := doc.(map[string]any)
	if !ok {
		return doc
	}
	defs, ok := root["definitions"].(map[string]any)
	if !ok {
		return doc
	}
	keep := map[string]any{}
	queue := append([]string(nil), types...)
	var refs func(v any)
	refs = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					if name, ok := strings.CutPrefix(s, "#/definitions/"); ok {
						queue = append(queue, name)
					}
					continue
				}
				refs(x)
			}
		case []any:
			for _, x := range v {
				refs(x)
			}
		}
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := keep[name]; done {
			continue
		}
		d, ok := defs[name]
		if !ok {
			continue
		}
		if name == "ResourceList" {
			// Any resource at all (Observation.contained,
			// Bundle entries): its closure is the whole schema.
			// Tend reads no contained resource, so it is kept an
			// object whose resourceType is a string, not
			// validated further.
			d = map[string]any{"type": "object", "required": []any{"resourceType"},
				"properties": map[string]any{"resourceType": map[string]any{"type": "string"}}}
		}
		keep[name] = d
		refs(d)
	}
	out := map[string]any{"definitions": keep}
	for _, k := range []string{"$schema", "id", "description"} {
		if v, ok := root[k]; ok {
			out[k] = v
		}
	}
	return out
}
