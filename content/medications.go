package content

import (
	"fmt"
	"io/fs"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/tendcare/tend/locales"
)

// MedicationsFile maps medications to the classes adherence is measured
// by (PDC). It is optional: without it every medication is its own class.
const MedicationsFile = "medications.yaml"

// DefaultThreshold is the PDC at or above which a patient counts as
// adherent when a class names none: PQA's 80 %.
const DefaultThreshold = 0.80

// Medications are the classes of medications.yaml.
type Medications struct {
	Classes map[string]*MedicationClass `yaml:"classes"`
	// byName maps a generic name (lower case) to its class id.
	byName map[string]string
}

// MedicationClass is one class: a day counts as covered when any of its
// medications is on hand.
type MedicationClass struct {
	ID          string   `yaml:"-"`
	Name        string   `yaml:"name"`
	Threshold   float64  `yaml:"threshold"`
	Source      string   `yaml:"source"`
	Medications []string `yaml:"medications"`

	Line int `yaml:"-"`
}

// Class returns the class a dispensed medication counts in and its
// adherence threshold. A name is matched whole (lower case), then word by
// word, so that "Lisinopril 10 mg" and "amlodipine/benazepril" find
// their class. ok is false for a medication no class names: it is a
// class of its own, and id is its normalized name.
func (m *Medications) Class(medication string) (id string, threshold float64, ok bool) {
	name := NormalizeMedication(medication)
	if m != nil {
		if id, ok := m.byName[name]; ok {
			return id, m.Classes[id].threshold(), true
		}
		for _, w := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) }) {
			if id, ok := m.byName[w]; ok {
				return id, m.Classes[id].threshold(), true
			}
		}
	}
	return name, DefaultThreshold, false
}

func (c *MedicationClass) threshold() float64 {
	if c == nil || c.Threshold == 0 {
		return DefaultThreshold
	}
	return c.Threshold
}

// NormalizeMedication is how a medication's name is compared: lower
// case, spaces trimmed and single.
func NormalizeMedication(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

func parseMedications(fsys fs.FS, p *Pack) []Problem {
	if _, err := fs.Stat(fsys, MedicationsFile); err != nil {
		return nil
	}
	var m Medications
	root, err := decodeStrict(fsys, MedicationsFile, &m)
	if err != nil {
		return []Problem{{File: MedicationsFile, Line: locales.YAMLErrLine(err), Msg: err.Error()}}
	}
	var problems []Problem
	classes := mapValue(root, "classes")
	m.byName = map[string]string{}
	for _, id := range sortedKeys(m.Classes) {
		c := m.Classes[id]
		if c == nil {
			c = &MedicationClass{}
			m.Classes[id] = c
		}
		c.ID, c.Line = id, root.Line
		if classes != nil && classes.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(classes.Content); i += 2 {
				if classes.Content[i].Value == id {
					c.Line = classes.Content[i].Line // the class's name
				}
			}
		}
		if c.Threshold < 0 || c.Threshold > 1 {
			problems = append(problems, Problem{File: MedicationsFile, Line: c.Line, Msg: fmt.Sprintf("class %q: threshold %v is not between 0 and 1 (0.80 is 80 %%)", id, c.Threshold)})
		}
		if c.Source == "" {
			problems = append(problems, Problem{File: MedicationsFile, Line: c.Line, Msg: fmt.Sprintf("class %q has no source (the measure it follows, with its URL)", id)})
		}
		if len(c.Medications) == 0 {
			problems = append(problems, Problem{File: MedicationsFile, Line: c.Line, Msg: fmt.Sprintf("class %q has no medications", id)})
		}
		for _, med := range c.Medications {
			name := NormalizeMedication(med)
			if other, dup := m.byName[name]; dup {
				problems = append(problems, Problem{File: MedicationsFile, Line: c.Line, Msg: fmt.Sprintf("class %q: %q is also in class %q", id, med, other)})
				continue
			}
			m.byName[name] = id
		}
	}
	p.Medications = m
	return problems
}
