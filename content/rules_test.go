package content

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// defaultCopy is the bundled pack as a MapFS a test can break.
func defaultCopy(t *testing.T) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	src := Default()
	for _, dir := range []string{"flows", "programs", "rules", "locales/catalog", "locales/words", "locales/safety"} {
		names, err := fs.Glob(src, dir+"/*.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			data, err := fs.ReadFile(src, n)
			if err != nil {
				t.Fatal(err)
			}
			out[n] = &fstest.MapFile{Data: data}
		}
	}
	for _, n := range []string{ChannelsFile, "medications.yaml", "risk.yaml"} {
		if data, err := fs.ReadFile(src, n); err == nil {
			out[n] = &fstest.MapFile{Data: data}
		}
	}
	return out
}

// The bundled rules load: every id of the plan, each with a source.
func TestDefaultRules(t *testing.T) {
	t.Parallel()
	p, _, err := Load(Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(defaultCopy(t)); err != nil {
		t.Fatalf("the copy the lint tests break does not load as it is: %v", err)
	}
	for _, id := range []string{"bp-crisis", "bp-low", "bp-review", "bp-first-high", "weight-gain", "weight-personal", "weight-loss",
		"glucose-level2", "glucose-level1", "glucose-high", "glucose-fasting-review", "spo2-low", "spo2-emergency", "hr-watch", "hr-alert", "weight-gap"} {
		r, set := p.Rule(id)
		if r == nil || set == nil || r.Source == nil || r.Source.URL == "" {
			t.Errorf("rule %s: %+v", id, r)
		}
	}
}

// A rule file is read strictly and linted: the problem names file and line.
func TestRulesLint(t *testing.T) {
	t.Parallel()
	const file = "rules/hypertension.yaml"
	cases := []struct {
		name, old, new, at, msg string
	}{
		{"unknown field", "    urgent: true\n    priority: high          # \"urgent", "    urgent: true\n    colour: red\n    priority: high          # \"urgent", "colour: red", "field colour not found"},
		{"unknown kind", "kind: blood_pressure", "kind: blood_presure", "", "unknown reading kind"},
		{"alert without confirm", "    confirm: confirm-bp\n", "", "id: bp-crisis", "needs a confirm flow"},
		{"unknown confirm flow", "confirm: confirm-bp\n", "confirm: confirm-bq\n", "id: bp-crisis", "confirm flow \"confirm-bq\" is not defined"},
		{"no source", "    source:\n      name: \"American Heart", "    sourc:\n      name: \"American Heart", "sourc:", "field sourc not found"},
		{"never matches", "{measure: systolic, at_least: 180}", "{measure: systolic, at_least: 180, below: 100}", "id: bp-crisis", "can never match"},
		{"bad baseline", "{measure: systolic, at_least: 180}", "{measure: systolic, at_least: 180, from: average, over: 7d}", "id: bp-crisis", "from \"average\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fsys := defaultCopy(t)
			data := string(fsys[file].Data)
			if !strings.Contains(data, c.old) {
				t.Fatalf("%s has no %q", file, c.old)
			}
			data = strings.Replace(data, c.old, c.new, 1)
			fsys[file].Data = []byte(data)
			line := 0
			if c.at != "" {
				for i, l := range strings.Split(data, "\n") {
					if strings.Contains(l, c.at) {
						line = i + 1
						break
					}
				}
			}
			_, problems, err := Load(fsys)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, p := range problems {
				if p.File == file && strings.Contains(p.Msg, c.msg) && (line == 0 || p.Line == line) && !p.Warning {
					return
				}
			}
			t.Fatalf("no problem %q at %s:%d in %v", c.msg, file, line, problems)
		})
	}
}
