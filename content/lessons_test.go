package content_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tendcare/tend/content"
)

// bundledLessons are the lessons of docs/clinical.md#lessons.
var bundledLessons = []string{"hf-daily-weight", "bp-measuring", "why-take-pills", "rule-of-15", "foot-checks", "salt-and-fluids", "stroke-signs"}

// notSaid are words no patient text of a lesson may contain, per language:
// the names of the conditions the programs treat and of common medicines
// (minimum necessary: a lock screen must not tell who has what). Stroke is
// not among them: stroke-signs teaches every patient an emergency anyone
// may witness (docs/clinical.md#lessons).
var notSaid = map[string][]string{
	"en":      {"hypertension", "high blood pressure", "diabet", "heart failure", "kidney disease", "copd", "hypoglyc", "insulin", "metformin", "lisinopril", "statin", "diuretic", "water pill"},
	"es":      {"hipertensi", "presión alta", "diabet", "insuficiencia", "renal", "epoc", "hipoglucemia", "insulina", "metformina", "lisinopril", "estatina", "diurético"},
	"ar":      {"ارتفاع ضغط", "ضغط الدم المرتفع", "السكري", "قصور القلب", "فشل القلب", "امراض الكلى", "أمراض الكلى", "انسولين", "إنسولين", "ميتفورمين", "ليسينوبريل", "ستاتين", "مدر للبول"},
	"ko":      {"고혈압", "당뇨", "심부전", "신장병", "저혈당", "인슐린", "메트포르민", "리시노프릴", "스타틴", "이뇨제"},
	"zh-Hans": {"高血压", "糖尿病", "心衰", "心力衰竭", "肾病", "低血糖症", "胰岛素", "二甲双胍", "赖诺普利", "他汀", "利尿剂"},
	"zh-Hant": {"高血壓", "糖尿病", "心衰", "心臟衰竭", "腎臟病", "低血糖症", "胰島素", "二甲雙胍", "賴諾普利", "他汀", "利尿劑"},
	"vi":      {"tăng huyết áp", "cao huyết áp", "tiểu đường", "đái tháo đường", "suy tim", "bệnh thận", "hạ đường huyết", "insulin", "metformin", "lisinopril", "statin", "lợi tiểu"},
	"tl":      {"alta presyon", "altapresyon", "hypertension", "diabetes", "dyabetis", "heart failure", "sakit sa bato", "hypoglycemia", "insulin", "metformin", "lisinopril", "statin", "diuretic"},
	"fr":      {"hypertension", "diabèt", "insuffisance", "rénal", "hypoglyc", "insuline", "metformine", "lisinopril", "statine", "diurétique"},
	"pt":      {"hipertens", "pressão alta", "diabet", "insuficiência", "renal", "hipoglic", "insulina", "metformina", "lisinopril", "estatina", "diurético"},
	"ht":      {"tansyon wo", "dyabèt", "dyabet", "ensifizans", "ipoglisemi", "ensilin", "metfòmin", "lisinopril", "estatin", "diyiretik"},
	"ru":      {"гипертон", "диабет", "сердечная недостаточность", "почечн", "гипогликем", "инсулин", "метформин", "лизиноприл", "статин", "мочегонн"},
	"hi":      {"उच्च रक्तचाप", "मधुमेह", "डायबिटीज", "हार्ट फेल", "गुर्दे की बीमारी", "हाइपोग्लाइसीमिया", "इंसुलिन", "मेटफॉर्मिन", "लिसिनोप्रिल", "स्टैटिन"},
}

// TestBundledLessons checks the shape every bundled lesson follows (the
// teach-back of hf-daily-weight): two questions, each with a retry state
// whose quiz question is the question state's id, three choices with one
// right answer, a gap state that opens a low ticket; a source and a
// licence; no diagnosis or medicine named; scheduled by some program.
func TestBundledLessons(t *testing.T) {
	t.Parallel()
	p, _, err := content.Load(content.Default())
	if err != nil {
		t.Fatal(err)
	}
	scheduled := map[string]bool{}
	for _, pr := range p.Programs {
		for _, e := range pr.Education {
			scheduled[e.Flow] = true
		}
	}
	for _, id := range bundledLessons {
		t.Run(id, func(t *testing.T) {
			f := p.Flows[id]
			if f == nil {
				t.Fatalf("no flow %s", id)
			}
			if !f.IsLesson() || f.Purpose != "education" || f.Priority != content.PriorityEducation {
				t.Errorf("purpose %q priority %q: want an education lesson", f.Purpose, f.Priority)
			}
			if !strings.HasPrefix(f.Source, "https://") || f.Licence == "" {
				t.Errorf("source %q licence %q", f.Source, f.Licence)
			}
			if !scheduled[id] {
				t.Errorf("no program's education list schedules %s", id)
			}
			for _, q := range []string{"q1", "q2"} {
				for _, sid := range []string{q, q + "_retry"} {
					st := f.States[sid]
					if st == nil {
						t.Fatalf("no state %s", sid)
					}
					right := 0
					for _, c := range st.Choices {
						m := content.QuizOf(c.Do)
						if m == nil || m.Question != q {
							t.Errorf("state %s choice %s: quiz %+v, want question %s", sid, c.ID, m, q)
							continue
						}
						if m.Correct {
							right++
						} else if want := q + "_retry"; sid == q && c.Next != want {
							t.Errorf("state %s choice %s: a wrong answer goes to %s, want %s", sid, c.ID, c.Next, want)
						} else if sid != q && c.Next != "gap" {
							t.Errorf("state %s choice %s: a second wrong answer goes to %s, want gap", sid, c.ID, c.Next)
						}
					}
					if len(st.Choices) != 3 || right != 1 {
						t.Errorf("state %s: %d choices, %d right; want 3 and 1", sid, len(st.Choices), right)
					}
					if st.Timeout == nil {
						t.Errorf("state %s has no timeout: a patient who does not answer would keep an open question", sid)
					}
				}
			}
			// WhatsApp shows choices as buttons only when every title
			// fits in 20 characters (hf-daily-weight predates the rule).
			if id != "hf-daily-weight" {
				for _, lang := range p.Languages {
					for _, c := range f.States["q1"].Choices {
						checkButton(t, p, lang, c.Label)
					}
					for _, c := range f.States["q2"].Choices {
						checkButton(t, p, lang, c.Label)
					}
				}
			}
			gap := f.States["gap"]
			if gap == nil || !slices.ContainsFunc(gap.Do, func(a content.Action) bool { return a.Escalate != nil && a.Escalate.Priority == "low" }) {
				t.Errorf("gap state does not open a low ticket: %+v", gap)
			}
			for _, lang := range p.Languages {
				for _, text := range lessonTexts(t, p, f, lang) {
					low := strings.ToLower(text)
					if notSaid[lang] == nil {
						t.Fatalf("%s: no list of words its lessons may not say (notSaid)", lang)
					}
					for _, w := range notSaid[lang] {
						if strings.Contains(low, w) {
							t.Errorf("%s: %q names %q", lang, text, w)
						}
					}
					if regexp.MustCompile(`\b911\b`).MatchString(text) {
						t.Errorf("%s: %q says 911: use {{.Emergency}}, the patient's country's number", lang, text)
					}
				}
			}
		})
	}
}

// lessonTexts renders every message and label a lesson sends in lang.
func lessonTexts(t *testing.T, p *content.Pack, f *content.Flow, lang string) []string {
	t.Helper()
	var ids []string
	for _, st := range f.States {
		if st == nil {
			continue
		}
		ids = append(ids, st.Say)
		for _, a := range st.Do {
			ids = append(ids, a.Say)
		}
		for _, c := range st.Choices {
			ids = append(ids, c.Label)
			for _, a := range c.Do {
				ids = append(ids, a.Say)
			}
		}
	}
	var out []string
	for _, id := range ids {
		if id == "" {
			continue
		}
		for _, v := range []string{id, id + ".voice"} {
			if p.Catalog.Messages[lang][v] == nil {
				continue
			}
			text, err := p.Catalog.Text(lang, v, map[string]any{"Emergency": "112"}, nil)
			if err != nil {
				t.Errorf("%s %s: %v", lang, v, err)
			}
			out = append(out, fmt.Sprint(text))
		}
	}
	return out
}

// checkButton fails when a label, rendered, is longer than a WhatsApp
// quick-reply button's title (20 characters).
func checkButton(t *testing.T, p *content.Pack, lang, label string) {
	t.Helper()
	text, err := p.Catalog.Text(lang, label, map[string]any{"Emergency": "112"}, nil)
	if err != nil {
		t.Errorf("%s %s: %v", lang, label, err)
	}
	if n := len([]rune(text)); n > 20 {
		t.Errorf("%s %s: %q has %d characters; a WhatsApp button title has at most 20", lang, label, text, n)
	}
}
