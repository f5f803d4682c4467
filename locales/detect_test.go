package locales

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestDetect pins what the detector does with the forms of writing the
// issue names: combinations in either order with words between, inflections,
// typos, no apostrophes or accents, capitals, other digits and scripts,
// negation and hedges, numbers.
func TestDetect(t *testing.T) {
	d, _ := bundledDetector(t)
	tests := []struct {
		msg     string
		level   Level
		concept string
	}{
		// Combinations, either order, words between.
		{"chest pain", LevelEmergency, "chest_pain"},
		{"pain in my chest", LevelEmergency, "chest_pain"},
		{"my chest is really really tight", LevelEmergency, "chest_pain"},
		{"me duele mucho el pecho", LevelEmergency, "chest_pain"},
		// Inflections and stems.
		{"my chest keeps hurting", LevelEmergency, "chest_pain"},
		{"se me adormecio la mitad de la cara", LevelEmergency, "stroke"},
		// One letter off, for words of five letters or more.
		{"chset pain", LevelEmergency, "chest_pain"},
		{"siezure", LevelEmergency, "seizure"},
		{"no puedo respriar", LevelEmergency, "breathing"},
		// ... but not a real word one letter away.
		{"i like to paint", LevelNone, ""},
		// No apostrophes, accents, capitals; full-width letters.
		{"I CAN'T BREATHE", LevelEmergency, "breathing"},
		{"cant breathe", LevelEmergency, "breathing"},
		{"NO PUEDO RESPIRAR", LevelEmergency, "breathing"},
		{"ＣＨＥＳＴ ＰＡＩＮ", LevelEmergency, "chest_pain"},
		{"tengo opresión en el pecho", LevelEmergency, "chest_pain"},
		// Indirect suicidal thoughts get the crisis concept.
		{"everyone would be better off without me", LevelEmergency, "suicide"},
		{"ya no tengo razon para vivir", LevelEmergency, "suicide"},
		{"i want to end my life", LevelEmergency, "suicide"},
		// Negation, the past and questions ask.
		{"no chest pain today", LevelAsk, "chest_pain"},
		{"not short of breath", LevelAsk, "breathing"},
		{"I had chest pain yesterday", LevelAsk, "chest_pain"},
		{"what are the signs of a stroke", LevelAsk, "stroke"},
		{"chest pain but it went away", LevelAsk, "chest_pain"},
		{"no fever but my chest hurts", LevelEmergency, "chest_pain"},
		{"since yesterday my chest hurts bad", LevelEmergency, "chest_pain"},
		// A Chinese or Korean comma ends a clause as "but" does: the
		// negation before it does not reach the match after it.
		{"我没有胸痛，但是呼吸困难", LevelEmergency, "breathing"},
		{"没有胸痛，呼吸困难", LevelEmergency, "breathing"},
		{"没有胸痛,呼吸困难", LevelEmergency, "breathing"},
		{"没发烧，胸痛", LevelEmergency, "chest_pain"},
		{"没发烧胸痛", LevelAsk, "chest_pain"},
		{"没有胸痛，也没有呼吸困难", LevelAsk, "chest_pain"},
		{"안 어지러워요, 가슴이 아파요", LevelEmergency, "chest_pain"},
		{"안 어지러워요 가슴이 아파요", LevelAsk, "chest_pain"},
		// The enumeration comma lists: the negation reaches over it.
		{"不咳嗽、胸痛", LevelAsk, "chest_pain"},
		// Patterns reach over the comma ("咬 .. 舌 .. 抽").
		{"他咬到舌头了，在地上抽", LevelEmergency, "seizure"},
		// Hindi says no after the words (negation_after), within two
		// words; a pattern holding the "नहीं" stays an emergency.
		{"सीने में दर्द नहीं है", LevelAsk, "chest_pain"},
		{"seene me dard nahi hai", LevelAsk, "chest_pain"},
		{"सीने में जकड़न बिल्कुल नहीं है", LevelAsk, "chest_pain"},
		{"सीने में दर्द है", LevelEmergency, "chest_pain"},
		{"सीने में दर्द है पसीना नहीं रुक रहा", LevelEmergency, "chest_pain"},
		{"सीने में दर्द है, नींद नहीं आ रही", LevelEmergency, "chest_pain"},
		{"पापा से बोला नहीं जा रहा, साँस टूट टूट कर आ रही है", LevelEmergency, "breathing"},
		{"खून थम नहीं रहा", LevelEmergency, "bleeding"},
		{"साँस नहीं आ रही", LevelEmergency, "breathing"},
		// Arabic clitics (prefixes) come off a word no term has as
		// written: فوجع is ف + وجع, والتشنجات و + ال + تشنجات.
		{"عندي فوجع بالصدر", LevelEmergency, "chest_pain"},
		{"والتشنجات بدأت", LevelEmergency, "seizure"},
		// Other meanings.
		{"my chest of drawers broke", LevelNone, ""},
		{"this heat is killing me", LevelNone, ""},
		{"sugar free cookies", LevelNone, ""},
		{"me muero de risa", LevelNone, ""},
		{"blood test on monday", LevelNone, ""},
		// Glucose numbers, with a symptom anywhere, in any digits.
		{"sugar 48 and shaking", LevelEmergency, "low_sugar"},
		{"shaky. glucose 2.8 mmol", LevelEmergency, "low_sugar"},
		{"azucar 2,7 sudando frio", LevelEmergency, "low_sugar"},
		{"sugar ٤٥ shaking", LevelEmergency, "low_sugar"},
		{"sugar 45", LevelAsk, "low_sugar"},
		{"sugar 112 this morning", LevelNone, ""},
		{"sugar fine walked 45 minutes", LevelNone, ""},
		{"bp 150/45 and a bit shaky sugar ok", LevelNone, ""},
		// Ordinary replies.
		{"1", LevelNone, ""},
		{"yes", LevelNone, ""},
		{"I took it", LevelNone, ""},
		{"ya la tomé", LevelNone, ""},
		{"", LevelNone, ""},
	}
	for _, tt := range tests {
		f := detect(d, tt.msg)
		if f.Level != tt.level || f.Concept != tt.concept {
			t.Errorf("%q: %s %s (%s), want %s %s", tt.msg, f.Level, f.Concept, f.Why, tt.level, tt.concept)
		}
	}
}

// TestPrefixes pins the stripping of the prefixes a lexicon declares: up to
// three, with three letters or more left, and only for the declaring
// language's terms, so that no other language's matching changes.
func TestPrefixes(t *testing.T) {
	t.Parallel()
	xx := &Lexicon{Language: "xx", File: "xx.yaml", Line: map[string]int{},
		Prefixes: Entries{{Text: "wa"}, {Text: "al"}},
		Concepts: map[string]*Concept{"chest_pain": {Match: Entries{{Text: "chest ~ pain"}}}}}
	yy := &Lexicon{Language: "yy", File: "yy.yaml", Line: map[string]int{},
		Concepts: map[string]*Concept{"breathing": {Match: Entries{{Text: "gasping"}}, Ask: Entries{{Text: "gas"}}}}}
	d, errs := NewDetector([]*Lexicon{xx, yy})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tt := range []struct {
		msg   string
		level Level
	}{
		{"chest pain", LevelEmergency},
		{"wachest pain", LevelEmergency},       // one
		{"chest waalpain", LevelEmergency},     // two
		{"wawaalchest pain", LevelEmergency},   // three
		{"wawawaalchest pain", LevelNone},      // four
		{"wagasping", LevelNone},               // yy declares none
		{"wagas", LevelNone},                   // nor here
		{"alwachest waalpain", LevelEmergency}, // in any order
		{"chest wapa", LevelNone},              // two letters left: not a word
	} {
		if f := detect(d, tt.msg); f.Level != tt.level {
			t.Errorf("%q: %s %s, want %s", tt.msg, f.Level, f.Concept, tt.level)
		}
	}
	bad := &Lexicon{Language: "zz", File: "zz.yaml", Line: map[string]int{}, Prefixes: Entries{{Text: "w a", Line: 3}}}
	if _, errs := NewDetector([]*Lexicon{bad}); len(errs) != 1 || !strings.Contains(errs[0].Error(), "zz.yaml:3:") {
		t.Errorf("a prefix of two words: %v, want one error at zz.yaml:3", errs)
	}
}

// TestPhrases pins the grammar of alternatives: "|" joins single words and
// binds tighter than a space ("a|b c" is the term a|b, then c); phrases of
// different lengths go in parentheses. What would silently match something
// else is refused, naming the file and line.
func TestPhrases(t *testing.T) {
	t.Parallel()
	lex := func(match ...string) *Lexicon {
		l := &Lexicon{Language: "xx", File: "xx.yaml", Line: map[string]int{}, Concepts: map[string]*Concept{"allergy": {}}}
		for _, m := range match {
			l.Concepts["allergy"].Match = append(l.Concepts["allergy"].Match, Entry{Text: m, Line: 7})
		}
		return l
	}
	d, errs := NewDetector([]*Lexicon{lex("(epipen|epi pen) used|expired", "!(my|her) throat|tongue .. (swelled|closing up)")})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tt := range []struct {
		msg   string
		level Level
	}{
		{"epipen used", LevelEmergency},
		{"epi pen expired", LevelEmergency},
		{"epi used", LevelNone},
		{"pen used", LevelNone},
		{"epipen pen used", LevelEmergency}, // "epipen used" with a word between
		{"her tongue is closing up", LevelEmergency},
		{"her tongue closing", LevelNone},
	} {
		if f := detect(d, tt.msg); f.Level != tt.level {
			t.Errorf("%q: %s, want %s", tt.msg, f.Level, tt.level)
		}
	}
	for _, tt := range []struct {
		lex  *Lexicon
		want string
	}{
		{lex("(epipen|epi pen used"), `without its ")"`},
		{lex("epipen|epi pen) used"), `without its "("`},
		{lex("x(epipen|epi pen) used"), "stand apart"},
		{lex("((a|b)|c) d"), "not (, ~ or &"},
		{lex("(a||b) d"), "empty alternative"},
		{lex("(a|b) (c|d) (e|f) (g|h) (i|j) (k|l)"), "more than 32 phrases"},
		{&Lexicon{Language: "xx", File: "xx.yaml", Line: map[string]int{}, Negative: Entries{{Text: "cant|cannot", Line: 7}}}, "one word each"},
		{&Lexicon{Language: "xx", File: "xx.yaml", Line: map[string]int{}, NotTypos: Entries{{Text: "paint chess", Line: 7}}}, "one word each"},
		{&Lexicon{Language: "xx", File: "xx.yaml", Line: map[string]int{}, No: Entries{{Text: "im fine|ok", Line: 7}}}, "an answer is a phrase"},
		{&Lexicon{Language: "xx", File: "xx.yaml", Line: map[string]int{}, Groups: map[string]Entries{"g": {{Text: "(a)", Line: 7}}}, Concepts: map[string]*Concept{"allergy": {Match: Entries{{Text: "@g", Line: 9}}}}}, "parentheses group"},
	} {
		_, errs := NewDetector([]*Lexicon{tt.lex})
		if len(errs) == 0 || !strings.Contains(errs[0].Error(), "xx.yaml:7:") || !strings.Contains(errs[0].Error(), tt.want) {
			t.Errorf("%+v: errors %v, want xx.yaml:7: ... %s", tt.lex.Concepts["allergy"], errs, tt.want)
		}
	}
}

func TestAnswer(t *testing.T) {
	d, _ := bundledDetector(t)
	for _, tt := range []struct {
		msg     string
		yes, no bool
	}{
		{"yes", true, false}, {"YES it hurts", true, false}, {"Sí", true, false},
		{"no", false, true}, {"no im fine", false, true}, {"ya se me pasó", false, true},
		{"ok", false, false}, {"1", false, false}, {"", false, false},
	} {
		yes, no := d.Answer(Normalize(tt.msg))
		if yes != tt.yes || no != tt.no {
			t.Errorf("Answer(%q) = %v, %v; want %v, %v", tt.msg, yes, no, tt.yes, tt.no)
		}
	}
}

// TestDetectBadInput feeds what a phone network or an attacker may send:
// the longest SMS and Telegram messages, emoji only, mixed scripts,
// zero-width characters and direction marks, invalid UTF-8. Nothing may
// crash, and a long message still finds an emergency at its end.
func TestDetectBadInput(t *testing.T) {
	d, _ := bundledDetector(t)
	tail := " chest pain"
	for _, msg := range []string{
		strings.Repeat("a", 1600),
		strings.Repeat("blood ", 4096/6),
		strings.Repeat("no ", 1365) + "x",
		strings.Repeat("😀", 1000),
		"胸が痛い chest\u200Bpain مرحبا",
		"\u200F\u202Echest pain\u202C",
		"\xff\xfe\xfd chest",
		strings.Repeat("1.", 800),
	} {
		start := time.Now()
		detect(d, msg)
		if took := time.Since(start); took > time.Second {
			t.Errorf("%d bytes took %v", len(msg), took)
		}
	}
	long := strings.Repeat("I took my pills and walked today ", 4096/33)
	long = long[:4096-len(tail)] + tail
	if f := detect(d, long); f.Level != LevelEmergency {
		t.Errorf("4096-byte message ending in an emergency: %+v", f)
	}
	if f := detect(d, "chest\u200Bpain"); f.Level != LevelNone && f.Concept != "chest_pain" {
		t.Errorf("zero-width joined words: %+v", f)
	}
}

// FuzzDetect checks that no input crashes the detector or makes it slow,
// and that detection does not depend on case.
func FuzzDetect(f *testing.F) {
	d, _ := bundledDetector(f)
	for _, s := range []string{"chest pain", "no puedo respirar", "sugar 2.8 mmol shaky", "😀", "\u200F", "1,2.3/4:5", "#10+ took 20",
		"没有胸痛，呼吸困难", "सीने में दर्द नहीं है", "وبالصدر ألم", "(epi pen|x) ،,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		// The cost per message is BenchmarkDetect's (sms-max: 1,600 bytes);
		// the scan is linear by construction (bounded partial matches).
		got := detect(d, msg)
		if utf8.ValidString(msg) {
			if up := detect(d, strings.ToUpper(msg)); up.Level != got.Level && strings.EqualFold(strings.ToUpper(msg), msg) {
				t.Errorf("%q: %v, upper case: %v", msg, got, up)
			}
		}
	})
}

// BenchmarkDetect is the detector's cost per message: it runs on every
// inbound message, so an ordinary ASCII message must cost under 5 µs and
// allocate nothing.
func BenchmarkDetect(b *testing.B) {
	d, _ := bundledDetector(b)
	for _, bc := range []struct{ name, msg string }{
		{"reply", "1"},
		{"ordinary", "took my pills this morning thanks see you tuesday"},
		{"emergency", "my chest really hurts and i cant breathe"},
		{"spanish", "ya me tome la pastilla pero me aprieta el pecho"},
		{"glucose", "sugar 48 and shaky"},
		{"chinese", "我没有胸痛，但是呼吸困难"},
		{"arabic", "عندي فوجع بالصدر ووالدي قال لازم نروح المستشفى"}, // clitics: looked up without و ف ب ل ال
		{"sms-max", strings.Repeat("took my pills today ", 80)},
	} {
		norm := Normalize(bc.msg)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d.Detect(bc.msg, norm)
			}
		})
	}
}

// TestHangulStems: a Korean stem is found when an ending's consonant has
// joined its last syllable (쓰러지* in 쓰러짐, 쓰러진) or 어 contracted with
// its ㅣ (쓰러졌어요), and only then.
func TestHangulStems(t *testing.T) {
	t.Parallel()
	ko := &Lexicon{Language: "xk", File: "xk.yaml", Line: map[string]int{},
		Concepts: map[string]*Concept{"fainting": {Match: Entries{{Text: "쓰러지*"}}}, "suicide": {Match: Entries{{Text: "뛰어내리*"}}}}}
	d, errs := NewDetector([]*Lexicon{ko})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tt := range []struct {
		msg   string
		level Level
	}{
		{"엄마가 쓰러졌어요", LevelEmergency}, // 졌: 지 + 었
		{"뛰어내려 버릴 거야", LevelEmergency},
		{"쓰러저요", LevelNone}, // ㅓ is not ㅕ
		{"엄마가 쓰러지셨어요", LevelEmergency},
		{"아빠 쓰러짐", LevelEmergency},
		{"쓰러진 채로 있어요", LevelEmergency},
		{"옥상에서 뛰어내릴 거야", LevelEmergency},
		{"쓰러질", LevelEmergency},
		{"쓰러짓", LevelNone}, // ㅅ is no ending's consonant
		{"쓰러", LevelNone},
	} {
		if f := detect(d, tt.msg); f.Level != tt.level {
			t.Errorf("%q: %s %s, want %s", tt.msg, f.Level, f.Concept, tt.level)
		}
	}
}

// TestFoundSlotsFull: a message whose questions fill every found slot
// still reaches the emergency at its end.
func TestFoundSlotsFull(t *testing.T) {
	t.Parallel()
	xx := &Lexicon{Language: "xx", File: "xx.yaml", Line: map[string]int{},
		Concepts: map[string]*Concept{
			"overdose":   {Ask: Entries{{Text: "pill"}, {Text: "pills"}}},
			"chest_pain": {Match: Entries{{Text: "chest ~ pain"}}},
		}}
	d, errs := NewDetector([]*Lexicon{xx})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	msg := strings.Repeat("pill and pills then ", 3*maxFound) + "now chest pain"
	if f := detect(d, msg); f.Level != LevelEmergency || f.Concept != "chest_pain" {
		t.Errorf("after %d questions: %s %s, want the emergency", 6*maxFound, f.Level, f.Concept)
	}
}
