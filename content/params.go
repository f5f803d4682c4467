package content

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Types of flow parameters. A start of a flow must give exactly the
// parameters the flow declares, each of its type: a flow start is text
// from a clinic's system, and a parameter may end up in a message, so
// nothing reaches a patient that a flow did not ask for and a check did
// not pass.
const (
	ParamMedication  = "medication"  // the id of one of the patient's enrolled medicines
	ParamAppointment = "appointment" // the id of one of the patient's appointments (brings its date and time)
	ParamDate        = "date"        // YYYY-MM-DD
	ParamTime        = "time"        // HH:MM
	ParamEnum        = "enum"        // one of Values
)

// ParamTypes lists the types a flow may declare, in the order lint names
// them.
func ParamTypes() []string {
	return []string{ParamMedication, ParamAppointment, ParamDate, ParamTime, ParamEnum}
}

// Param is one declared parameter of a flow.
type Param struct {
	Name   string
	Type   string
	Values []string // an enum's allowed values
	Line   int
}

// Params are a flow's declared parameters, in the order they are written.
// In YAML, a mapping of name to type, where an enum is a mapping of its
// own:
//
//	params:
//	  medication: medication
//	  slot: {type: enum, values: [morning, evening]}
//
// The list form of earlier packs (params: [medication]) still reads: each
// name is then its own type.
type Params []Param

// UnmarshalYAML reads either form; lint checks the types.
func (ps *Params) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: params: want a parameter name", item.Line)
			}
			*ps = append(*ps, Param{Name: item.Value, Type: item.Value, Line: item.Line})
		}
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := Param{Name: k.Value, Line: k.Line}
			switch v.Kind {
			case yaml.ScalarNode:
				p.Type = v.Value
			case yaml.MappingNode:
				var spec struct {
					Type   string   `yaml:"type"`
					Values []string `yaml:"values"`
				}
				if err := v.Decode(&spec); err != nil {
					return fmt.Errorf("line %d: params.%s: %w", v.Line, p.Name, err)
				}
				for j := 0; j+1 < len(v.Content); j += 2 {
					if key := v.Content[j].Value; key != "type" && key != "values" {
						return fmt.Errorf("line %d: params.%s: unknown key %q (want type, values)", v.Content[j].Line, p.Name, key)
					}
				}
				p.Type, p.Values = spec.Type, spec.Values
			default:
				return fmt.Errorf("line %d: params.%s: want a type or {type: enum, values: [...]}", v.Line, p.Name)
			}
			*ps = append(*ps, p)
		}
		return nil
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
	}
	return fmt.Errorf("line %d: params: want a mapping of name to type", n.Line)
}

// Get returns the declared parameter named name.
func (ps Params) Get(name string) (Param, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// Names lists the declared names, in order.
func (ps Params) Names() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// declare checks one declaration: a known type, an enum with values, and
// for the types a placeholder reads, the name it reads them by.
func (p Param) declare() error {
	switch p.Type {
	case ParamMedication, ParamAppointment, ParamDate, ParamTime:
		if p.Name != p.Type {
			// The renderer reads {{.Medication}}, {{.Date}} and {{.Time}}
			// by these names (an appointment brings date and time).
			return fmt.Errorf("a %s parameter must be named %q", p.Type, p.Type)
		}
		if len(p.Values) > 0 {
			return fmt.Errorf("only an enum has values")
		}
	case ParamEnum:
		if len(p.Values) == 0 {
			return fmt.Errorf("an enum needs values")
		}
		if slices.Contains(ParamTypes()[:4], p.Name) {
			return fmt.Errorf("%q is the name of a %s parameter, not an enum", p.Name, p.Name)
		}
		for _, v := range p.Values {
			if v == "" {
				return fmt.Errorf("an enum value is empty")
			}
		}
	case "":
		return fmt.Errorf("no type (want %s)", strings.Join(ParamTypes(), ", "))
	default:
		return fmt.Errorf("unknown type %q (want %s)", p.Type, strings.Join(ParamTypes(), ", "))
	}
	return nil
}

// Check checks a value's form: a real date, a time of day, one of an
// enum's values. Medication and appointment ids are checked against the
// patient's enrollment by whoever holds it (the Runner); here they only
// need to be non-empty.
func (p Param) Check(v string) error {
	if v == "" {
		return fmt.Errorf("%s: required", p.Name)
	}
	switch p.Type {
	case ParamDate:
		if _, err := time.Parse("2006-01-02", v); err != nil || len(v) != 10 {
			return fmt.Errorf("%s: %q is not a date (YYYY-MM-DD)", p.Name, v)
		}
	case ParamTime:
		if _, _, err := ParseClock(v); err != nil {
			return fmt.Errorf("%s: %q is not a time of day (HH:MM)", p.Name, v)
		}
	case ParamEnum:
		if !slices.Contains(p.Values, v) {
			return fmt.Errorf("%s: %q is not one of %s", p.Name, v, strings.Join(p.Values, ", "))
		}
	}
	return nil
}

// CheckGiven checks parameters a flow start gives against the
// declaration: every name declared, every value of its form. A declared
// parameter left out is not an error here (a patient's only medicine may
// be implied); the Runner decides that with the enrollment at hand. The
// error names the parameter.
func (ps Params) CheckGiven(given map[string]string) error {
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		p, ok := ps.Get(k)
		if !ok {
			if len(ps) == 0 {
				return fmt.Errorf("%s: not a parameter of this flow (it takes none)", k)
			}
			return fmt.Errorf("%s: not a parameter of this flow (it takes %s)", k, strings.Join(ps.Names(), ", "))
		}
		if err := p.Check(given[k]); err != nil {
			return err
		}
	}
	return nil
}
