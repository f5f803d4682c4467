package readings

import (
	"sort"
	"strings"
	"testing"

	"github.com/tendcare/tend/locales"
)

// bundledWords are every bundled language's words, as the engine passes them.
func bundledWords(t testing.TB) []*locales.Words {
	t.Helper()
	m, errs := locales.LoadWords(locales.Files, "words")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	langs := make([]string, 0, len(m))
	for l := range m {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	out := make([]*locales.Words, len(langs))
	for i, l := range langs {
		out[i] = m[l]
	}
	return out
}

func bp(s, d int) Reading {
	return Reading{Kind: BloodPressure, Systolic: s, Diastolic: d, Unit: UnitMmHg, Source: Patient}
}
func val(k Kind, v float64, unit string) Reading {
	return Reading{Kind: k, Value: v, Unit: unit, Source: Patient}
}

func TestParseText(t *testing.T) {
	words := bundledWords(t)
	tests := []struct {
		in   string
		want Reading
		p    Problem
	}{
		// English.
		{"BP 150/95", bp(150, 95), OK},
		{"bp 150 / 95", bp(150, 95), OK},
		{"150/95", bp(150, 95), OK},
		{"150 over 95", bp(150, 95), OK},
		{"150-95", bp(150, 95), OK},
		{"Blood pressure: 132/84 mmHg", bp(132, 84), OK},
		{"my blood pressure is 150/95 today", bp(150, 95), OK},
		{"bp150/95", bp(150, 95), OK},
		{"150/95 bp", bp(150, 95), OK},
		{"BP 150/95 pulse 72", bp(150, 95), OK},
		{"120/80 hr 60", bp(120, 80), OK},
		{"my bp this morning was 135 over 85", bp(135, 85), OK},
		{"BP: 150/95, pulse 72", bp(150, 95), OK},
		{"I weigh 180 lbs", val(Weight, 81.6, UnitKg), OK},
		{"sat 88", val(SpO2, 88, UnitPercent), OK},
		{"weight 82.4 kg", val(Weight, 82.4, UnitKg), OK},
		{"82.4kg", val(Weight, 82.4, UnitKg), OK},
		{"weight 182 lb", val(Weight, 82.6, UnitKg), OK},
		{"Weight 182 lbs", val(Weight, 82.6, UnitKg), OK},
		{"182 pounds", val(Weight, 82.6, UnitKg), OK},
		{"weight 350", val(Weight, 158.8, UnitKg), OK}, // only plausible in lb
		{"weight 40", val(Weight, 40, UnitKg), OK},     // 40 lb is 18 kg: kg
		{"weight 82", val(Weight, 82, ""), UnitUnclear},
		{"sugar 210", val(Glucose, 210, UnitMgDL), OK},
		{"blood sugar 95 mg/dL", val(Glucose, 95, UnitMgDL), OK},
		{"sugar 5.5", val(Glucose, 99, UnitMgDL), OK}, // under 35: mmol/L
		{"glucose 7.2 mmol/L", val(Glucose, 130, UnitMgDL), OK},
		// France and North Africa: glucose in g/L; France and Brazil:
		// pressure in cmHg when a keyword names it.
		{"glycémie 1,20 g/L", val(Glucose, 120, UnitMgDL), OK},
		{"glycemie 0,65 g/l ce matin", val(Glucose, 65, UnitMgDL), OK},
		{"sucre 2,1 grammes par litre", val(Glucose, 210, UnitMgDL), OK},
		{"tension 12/8", bp(120, 80), OK},
		{"ma tension 13 sur 8", bp(130, 80), OK},
		{"pressão 12,5 por 8", bp(125, 80), OK},
		{"tension 18/11", bp(180, 110), OK},
		{"12/8", Reading{}, NotReading}, // a date
		{"BP 8/12", bp(8, 12), Implausible},
		{"sugar 210 at 8 am", val(Glucose, 210, UnitMgDL), OK},
		{"O2 93", val(SpO2, 93, UnitPercent), OK},
		{"o2 sat 93%", val(SpO2, 93, UnitPercent), OK},
		{"oxygen 96 percent", val(SpO2, 96, UnitPercent), OK},
		{"pulse 72", val(HeartRate, 72, UnitPerMin), OK},
		{"heart rate 64 bpm", val(HeartRate, 64, UnitPerMin), OK},
		{"72 bpm", val(HeartRate, 72, UnitPerMin), OK},
		// Spanish: words, accents or none, decimal commas.
		{"PA 150/95", bp(150, 95), OK},
		{"presión 150 sobre 95", bp(150, 95), OK},
		{"mi presion esta en 140/90", bp(140, 90), OK},
		{"peso 82,4", val(Weight, 82.4, ""), UnitUnclear},
		{"peso 82,4 kg", val(Weight, 82.4, UnitKg), OK},
		{"peso 180 libras", val(Weight, 81.6, UnitKg), OK},
		{"azúcar 210", val(Glucose, 210, UnitMgDL), OK},
		{"glucosa 6,1", val(Glucose, 110, UnitMgDL), OK},
		{"oxígeno 93", val(SpO2, 93, UnitPercent), OK},
		{"pulso 72", val(HeartRate, 72, UnitPerMin), OK},
		{"presión arterial 150/95 mmHg", bp(150, 95), OK},
		{"Peso: 82.4kg", val(Weight, 82.4, UnitKg), OK},
		{"azucar en ayunas 110", val(Glucose, 110, UnitMgDL), OK},
		{"mi azúcar está alta 250", val(Glucose, 250, UnitMgDL), OK},
		{"oxigeno 88%", val(SpO2, 88, UnitPercent), OK},
		{"Tomé mi pastilla a las 8", Reading{}, NotReading},
		{"temp 37.5", Reading{}, NotReading},
		{"1 taken", Reading{}, NotReading},
		{"saturación 95 por ciento", val(SpO2, 95, UnitPercent), OK},
		// French: words, accents or none, decimal commas.
		{"TA 150/95", bp(150, 95), OK},
		{"tension 150 sur 95", bp(150, 95), OK},
		{"ma tension est à 140/90", bp(140, 90), OK},
		{"tension artérielle 132/84 mmHg", bp(132, 84), OK},
		{"poids 82,4 kg", val(Weight, 82.4, UnitKg), OK},
		{"je pèse 82,4 kilos", val(Weight, 82.4, UnitKg), OK},
		{"glycémie 6,1", val(Glucose, 110, UnitMgDL), OK},
		{"sucre 210", val(Glucose, 210, UnitMgDL), OK},
		{"oxygène 93", val(SpO2, 93, UnitPercent), OK},
		{"saturation 95 pour cent", val(SpO2, 95, UnitPercent), OK},
		{"pouls 72", val(HeartRate, 72, UnitPerMin), OK},
		{"J'ai pris mon comprimé à 8h", Reading{}, NotReading},
		// Portuguese (Brazil): words, accents or none, decimal commas.
		{"PA 150/95", bp(150, 95), OK},
		{"pressão 150 por 95", bp(150, 95), OK},
		{"pressão 150 x 95", bp(150, 95), OK},
		{"PA 150x95", bp(150, 95), OK},
		{"minha pressão deu 140/90", bp(140, 90), OK},
		{"peso 82,4 kg", val(Weight, 82.4, UnitKg), OK},
		{"me pesei 82,4 quilos", val(Weight, 82.4, UnitKg), OK},
		{"glicemia 6,1", val(Glucose, 110, UnitMgDL), OK},
		{"açúcar 210", val(Glucose, 210, UnitMgDL), OK},
		{"saturação 93", val(SpO2, 93, UnitPercent), OK},
		{"oxigênio 95 por cento", val(SpO2, 95, UnitPercent), OK},
		{"pulso 72", val(HeartRate, 72, UnitPerMin), OK},
		{"Tomei o remédio às 8h", Reading{}, NotReading},
		// Haitian Creole: words with or without accents, decimal commas.
		{"tansyon 150/95", bp(150, 95), OK},
		{"tansyon mwen 150 sou 95", bp(150, 95), OK},
		{"pwa 82,4 kg", val(Weight, 82.4, UnitKg), OK},
		{"pwa m 180 liv", val(Weight, 81.6, UnitKg), OK},
		{"sik 110", val(Glucose, 110, UnitMgDL), OK},
		{"sik mwen 6,1", val(Glucose, 110, UnitMgDL), OK},
		{"oksijèn 93", val(SpO2, 93, UnitPercent), OK},
		{"batman kè 72", val(HeartRate, 72, UnitPerMin), OK},
		{"m pran grenn mwen a 8è", Reading{}, NotReading},
		// Arabic (words from locales/words/ar.yaml, Arabic-Indic digits).
		{"ضغط ١٥٠/٩٥", bp(150, 95), OK},
		{"الضغط 140 على 90", bp(140, 90), OK},
		{"ضغطي اليوم ١٣٥/٨٥", bp(135, 85), OK},
		{"وزن ٨٢٫٤ كغ", val(Weight, 82.4, UnitKg), OK},
		{"وزني 82.4 كيلو", val(Weight, 82.4, UnitKg), OK},
		{"وزني 180 رطل", val(Weight, 81.6, UnitKg), OK},
		{"سكر ٢١٠", val(Glucose, 210, UnitMgDL), OK},
		{"السكر 6.1 مليمول", val(Glucose, 110, UnitMgDL), OK},
		{"الاكسجين ٩٣", val(SpO2, 93, UnitPercent), OK},
		{"النبض ٧٢", val(HeartRate, 72, UnitPerMin), OK},
		{"اخذت الدواء الساعة ٨", Reading{}, NotReading},
		// Russian (words from locales/words/ru.yaml, decimal comma, mmol/L).
		{"давление 150/95", bp(150, 95), OK},
		{"Давление 140 на 90", bp(140, 90), OK},
		{"АД 135/85", bp(135, 85), OK},
		{"вес 82,4 кг", val(Weight, 82.4, UnitKg), OK},
		{"мой вес 180 фунтов", val(Weight, 81.6, UnitKg), OK},
		{"сахар 110", val(Glucose, 110, UnitMgDL), OK},
		{"сахар 6,1 ммоль", val(Glucose, 110, UnitMgDL), OK},
		{"сатурация 93", val(SpO2, 93, UnitPercent), OK},
		{"пульс 72", val(HeartRate, 72, UnitPerMin), OK},
		{"выпила таблетку в 8", Reading{}, NotReading},
		// Hindi (words from locales/words/hi.yaml, Devanagari digits).
		{"बीपी १५०/९५", bp(150, 95), OK},
		{"BP 140 बटा 90", bp(140, 90), OK},
		{"वज़न ८२.४ किलो", val(Weight, 82.4, UnitKg), OK},
		{"वजन 180 पाउंड", val(Weight, 81.6, UnitKg), OK},
		{"शुगर ११०", val(Glucose, 110, UnitMgDL), OK},
		{"sugar 110", val(Glucose, 110, UnitMgDL), OK},
		{"ऑक्सीजन 93", val(SpO2, 93, UnitPercent), OK},
		{"नब्ज़ 72", val(HeartRate, 72, UnitPerMin), OK},
		{"सुबह 8 बजे दवा ली", Reading{}, NotReading},
		// Simplified Chinese: Han characters are words of their own, so
		// numbers may stand right after them.
		{"血压 150/95", bp(150, 95), OK},
		{"血压150/95", bp(150, 95), OK},
		{"今天血压150/95", bp(150, 95), OK},
		{"血压 150比95", bp(150, 95), OK},
		{"血压 １５０／９５", bp(150, 95), OK},
		{"体重 180磅", val(Weight, 81.6, UnitKg), OK},
		{"血氧93%", val(SpO2, 93, UnitPercent), OK},
		{"今天吃了2次药", Reading{}, NotReading},
		// Traditional Chinese (Taiwan).
		{"血壓 150/95", bp(150, 95), OK},
		// Korean.
		{"혈압 150/95", bp(150, 95), OK},
		{"혈압 150에 95", bp(150, 95), OK},
		{"혈압은 130/85", bp(130, 85), OK},
		{"몸무게 82.4kg", val(Weight, 82.4, UnitKg), OK},
		{"체중 70킬로", val(Weight, 70, UnitKg), OK},
		{"몸무게 180파운드", val(Weight, 81.6, UnitKg), OK},
		{"혈당 110", val(Glucose, 110, UnitMgDL), OK},
		{"공복혈당 98", val(Glucose, 98, UnitMgDL), OK},
		{"산소 93", val(SpO2, 93, UnitPercent), OK},
		{"산소포화도 95퍼센트", val(SpO2, 95, UnitPercent), OK},
		{"맥박 72", val(HeartRate, 72, UnitPerMin), OK},
		{"오늘 약 2번 먹었어요", Reading{}, NotReading},
		// Vietnamese: with or without accents, đ as d, decimal commas.
		{"HA 150/95", bp(150, 95), OK},
		{"huyết áp 135/85", bp(135, 85), OK},
		{"huyet ap 140 tren 90", bp(140, 90), OK},
		{"Huyết áp sáng nay 132/84 mmHg", bp(132, 84), OK},
		{"cân 82,4 kg", val(Weight, 82.4, UnitKg), OK},
		{"can nang 65,5", val(Weight, 65.5, ""), UnitUnclear},
		{"đường 110", val(Glucose, 110, UnitMgDL), OK},
		{"Đường huyết 5,5", val(Glucose, 99, UnitMgDL), OK},
		{"duong huyet 180 mg/dL", val(Glucose, 180, UnitMgDL), OK},
		{"oxy 93", val(SpO2, 93, UnitPercent), OK},
		{"SpO2 95 phần trăm", val(SpO2, 95, UnitPercent), OK},
		{"mạch 72", val(HeartRate, 72, UnitPerMin), OK},
		{"nhịp tim 80 lần/phút", val(HeartRate, 80, UnitPerMin), OK},
		{"tôi đã uống thuốc lúc 8 giờ", Reading{}, NotReading},
		{"hẹn tái khám ngày 12/5", Reading{}, NotReading},
		{"can you call me at 5", Reading{}, NotReading},
		// Tagalog and Taglish.
		{"BP ko 150/95", bp(150, 95), OK},
		{"presyon 140 over 90", bp(140, 90), OK},
		{"timbang 82.4 kg", val(Weight, 82.4, UnitKg), OK},
		{"timbang ko 68 kilo", val(Weight, 68, UnitKg), OK},
		{"sugar ko 110", val(Glucose, 110, UnitMgDL), OK},
		{"asukal 180", val(Glucose, 180, UnitMgDL), OK},
		{"oxygen ko 95 porsyento", val(SpO2, 95, UnitPercent), OK},
		{"pulso 72", val(HeartRate, 72, UnitPerMin), OK},
		{"uminom ako ng 2 tableta kaninang 8", Reading{}, NotReading},
		// Digits of other scripts, full-width forms.
		{"BP ١٥٠/٩٥", bp(150, 95), OK}, // Arabic-Indic
		{"BP ۱۵۰/۹۵", bp(150, 95), OK}, // Extended Arabic-Indic (Urdu, Persian)
		{"１５０／９５", bp(150, 95), OK},    // full-width, CJK keyboards
		{"peso ８２，４ kg", val(Weight, 82.4, UnitKg), OK},
		{"weight ८२.४ kg", val(Weight, 82.4, UnitKg), OK}, // Devanagari
		{"peso ٨٢٫٤ kg", val(Weight, 82.4, UnitKg), OK},   // Arabic decimal separator
		{"sugar ২১০", val(Glucose, 210, UnitMgDL), OK},    // Bengali
		// Implausible: named, but asked again.
		{"BP 95/150", bp(95, 150), Implausible},
		{"BP 300/95", bp(300, 95), Implausible},
		{"bp 150", Reading{Kind: BloodPressure}, Implausible},
		{"BP 120/115", bp(120, 115), Implausible}, // pulse pressure too narrow
		{"sugar 900", val(Glucose, 900, UnitMgDL), Implausible},
		{"O2 150", val(SpO2, 150, UnitPercent), Implausible},
		{"pulse 300", val(HeartRate, 300, UnitPerMin), Implausible},
		{"weight 82 mg", Reading{Kind: Weight, Value: 82}, Implausible},
		{"weight 10 kg", val(Weight, 10, UnitKg), Implausible},
		// Not readings: the message goes on to the flow.
		{"1", Reading{}, NotReading},
		{"yes", Reading{}, NotReading},
		{"", Reading{}, NotReading},
		{"82", Reading{}, NotReading},
		{"12/25", Reading{}, NotReading}, // a date, not a pressure of 12
		{"my sugar is fine", Reading{}, NotReading},
		{"I took my BP pill 2 times today", Reading{}, NotReading},
		{"call me at 555 1234", Reading{}, NotReading},
		{"voy pa la clinica a las 3", Reading{}, NotReading},
		{"see you on 12/25 at the clinic", Reading{}, NotReading},
	}
	for _, tt := range tests {
		got, p := ParseText(tt.in, words)
		if p != tt.p {
			t.Errorf("ParseText(%q) problem = %v, want %v (reading %+v)", tt.in, p, tt.p, got)
			continue
		}
		if p == NotReading {
			continue
		}
		if p == Implausible {
			// What matters is the kind (to ask for it again).
			if got.Kind != tt.want.Kind {
				t.Errorf("ParseText(%q) kind = %q, want %q", tt.in, got.Kind, tt.want.Kind)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("ParseText(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// TestParseTextOneLanguage: each language's words read its own readings
// alone, so a language shipped without the others still works.
func TestParseTextOneLanguage(t *testing.T) {
	m, _ := locales.LoadWords(locales.Files, "words")
	for lang, in := range map[string]string{"en": "weight 82.4 kg", "es": "peso 82,4 kg", "vi": "cân 82,4 kg", "tl": "timbang 82.4 kg"} {
		got, p := ParseText(in, []*locales.Words{m[lang]})
		if p != OK || got.Kind != Weight || got.Value != 82.4 {
			t.Errorf("%s: ParseText(%q) = %+v, %v", lang, in, got, p)
		}
	}
	if _, p := ParseText("peso 82,4 kg", []*locales.Words{m["en"]}); p != OK {
		// "kg" makes it a weight even where "peso" is filler.
		t.Errorf("en words: a number with a unit: %v", p)
	}
}

func TestParseKeys(t *testing.T) {
	tests := []struct {
		kind   Kind
		digits string
		want   Reading
		p      Problem
	}{
		{BloodPressure, "150*95", bp(150, 95), OK},
		{BloodPressure, "150*95#", bp(150, 95), OK},
		{BloodPressure, "15095", Reading{}, Implausible},
		{BloodPressure, "95*150", Reading{}, Implausible},
		{BloodPressure, "150*", Reading{}, Implausible},
		{BloodPressure, "150*95*72", Reading{}, Implausible},
		{Weight, "82*4", val(Weight, 82.4, ""), UnitUnclear},
		{Weight, "350", val(Weight, 158.8, UnitKg), OK},
		{Weight, "30", val(Weight, 30, UnitKg), OK},
		{Glucose, "210", val(Glucose, 210, UnitMgDL), OK},
		{Glucose, "5*5", val(Glucose, 99, UnitMgDL), OK},
		{Glucose, "5**5", Reading{}, Implausible},
		{Glucose, "9999", Reading{}, Implausible},
		{SpO2, "93", val(SpO2, 93, UnitPercent), OK},
		{HeartRate, "72", val(HeartRate, 72, UnitPerMin), OK},
		{HeartRate, "", Reading{}, NotReading},
		{HeartRate, "#", Reading{}, NotReading},
		{HeartRate, "7a", Reading{}, NotReading},
		{Kind("steps"), "1000", Reading{}, NotReading},
	}
	for _, tt := range tests {
		got, p := ParseKeys(tt.kind, tt.digits)
		if p != tt.p {
			t.Errorf("ParseKeys(%s, %q) problem = %v, want %v", tt.kind, tt.digits, p, tt.p)
			continue
		}
		if p == OK || p == UnitUnclear {
			if got != tt.want {
				t.Errorf("ParseKeys(%s, %q) = %+v, want %+v", tt.kind, tt.digits, got, tt.want)
			}
		}
	}
}

func TestWithUnitAndGuess(t *testing.T) {
	r, p := ParseText("weight 180", bundledWords(t))
	if p != UnitUnclear {
		t.Fatalf("weight 180: %v", p)
	}
	if got, p := WithUnit(r, UnitLb); p != OK || got.Value != 81.6 || got.Unit != UnitKg {
		t.Errorf("WithUnit(lb) = %+v, %v", got, p)
	}
	if got, p := WithUnit(r, UnitKg); p != OK || got.Value != 180 {
		t.Errorf("WithUnit(kg) = %+v, %v", got, p)
	}
	if _, p := WithUnit(r, UnitMgDL); p != Implausible {
		t.Errorf("WithUnit(mg/dL) = %v", p)
	}
	for _, tt := range []struct {
		typed, baseline float64
		want            string
	}{
		{180, 82, UnitLb}, {82, 82, UnitKg}, {82, 0, ""}, {120, 82, ""},
	} {
		if got := GuessWeightUnit(tt.typed, tt.baseline); got != tt.want {
			t.Errorf("GuessWeightUnit(%v, %v) = %q, want %q", tt.typed, tt.baseline, got, tt.want)
		}
	}
	if !LooksLikeWrongUnit(val(Weight, 180, UnitKg), 82) || LooksLikeWrongUnit(val(Weight, 84, UnitKg), 82) {
		t.Error("LooksLikeWrongUnit: 180 kg against 82 kg is a unit slip, 84 kg is not")
	}
}

func BenchmarkParseText(b *testing.B) {
	words := bundledWords(b)
	ParseText("x", words)
	b.ReportAllocs()
	for b.Loop() {
		ParseText("presión 150 sobre 95", words)
	}
}

func FuzzParseText(f *testing.F) {
	words := bundledWords(f)
	for _, s := range []string{"BP 150/95", "peso 82,4", "١٥٠/٩٥", "sugar 5.5 mmol/L", "o2 93%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, p := ParseText(s, words)
		if p == OK && (!Plausible(r) || r.Unit != CanonicalUnit(r.Kind)) {
			t.Fatalf("ParseText(%q) = %+v OK, but not plausible and canonical", s, r)
		}
	})
}

// TestTextRoundTrip: Text's form of every kind reads back to the same
// reading, with no words loaded at all.
func TestTextRoundTrip(t *testing.T) {
	for _, r := range []Reading{bp(150, 95), val(Weight, 82.4, UnitKg), val(Glucose, 99, UnitMgDL),
		val(SpO2, 93, UnitPercent), val(HeartRate, 72, UnitPerMin)} {
		for _, words := range [][]*locales.Words{nil, bundledWords(t)} {
			got, p := ParseText(Text(r), words)
			if p != OK || got != r {
				t.Errorf("ParseText(Text(%+v) = %q) = %+v, %v", r, Text(r), got, p)
			}
		}
	}
}

func TestCheckWords(t *testing.T) {
	for _, w := range bundledWords(t) {
		if errs := CheckWords(w); len(errs) > 0 {
			t.Errorf("%s: %v", w.Language, errs)
		}
	}
	bad := &locales.Words{Readings: locales.ReadingWords{
		Kinds: map[string][]string{"weight": {"peso"}, "steps": {"pasos"}},
		Units: map[string][]string{"stone": {"st"}},
	}}
	got := CheckWords(bad)
	want := []string{"kinds: \"steps\"", "blood_pressure has no words", "\"stone\" is not a unit"}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			t.Errorf("CheckWords: no problem saying %q in %q", w, got)
		}
	}
}

// A question that asks for a reading of a kind is answered with the bare
// number; anything else still goes through ParseText's rules.
func TestParseTextAs(t *testing.T) {
	t.Parallel()
	words := bundledWords(t)
	for _, tc := range []struct {
		raw  string
		kind Kind
		want Reading
		p    Problem
	}{
		{"95", Glucose, Reading{Kind: Glucose, Value: 95, Unit: UnitMgDL}, OK},
		{"82,4", Weight, Reading{Kind: Weight, Value: 82.4}, UnitUnclear},
		{"es 93", SpO2, Reading{Kind: SpO2, Value: 93, Unit: UnitPercent}, OK},
		{"150/95", Glucose, Reading{Kind: BloodPressure, Systolic: 150, Diastolic: 95, Unit: UnitMmHg}, OK},
		{"5000", HeartRate, Reading{}, Implausible},
		{"95", "", Reading{}, NotReading},
		{"I will do it at 9 tomorrow after my walk with the dog", Glucose, Reading{}, NotReading},
		{"yes", Glucose, Reading{}, NotReading},
	} {
		got, p := ParseTextAs(tc.raw, words, tc.kind)
		if p != tc.p || (p == OK && (got.Kind != tc.want.Kind || got.Value != tc.want.Value || got.Unit != tc.want.Unit ||
			got.Systolic != tc.want.Systolic || got.Diastolic != tc.want.Diastolic)) {
			t.Errorf("ParseTextAs(%q, %s) = %+v, %v; want %+v, %v", tc.raw, tc.kind, got, p, tc.want, tc.p)
		}
	}
}

// TestParseTextHanKinds: kinds and units written in Chinese characters are
// found, as the parser makes each character a word, as Normalize does.
func TestParseTextHanKinds(t *testing.T) {
	words := bundledWords(t)
	tests := []struct {
		in   string
		want Reading
		p    Problem
	}{
		{"体重 82.4公斤", val(Weight, 82.4, UnitKg), OK},
		{"体重82.4千克", val(Weight, 82.4, UnitKg), OK},
		{"血糖 6.1", val(Glucose, 110, UnitMgDL), OK},
		{"空腹血糖7.2", val(Glucose, 130, UnitMgDL), OK},
		{"血氧 93", val(SpO2, 93, UnitPercent), OK},
		{"心率 72", val(HeartRate, 72, UnitPerMin), OK},
		{"脉搏 72次每分钟", val(HeartRate, 72, UnitPerMin), OK},
		{"體重 82.4公斤", val(Weight, 82.4, UnitKg), OK},
		{"血糖 110", val(Glucose, 110, UnitMgDL), OK},
		{"血氧 95", val(SpO2, 95, UnitPercent), OK},
		{"心跳 72", val(HeartRate, 72, UnitPerMin), OK},
	}
	for _, tt := range tests {
		got, p := ParseText(tt.in, words)
		if p != tt.p || got.Kind != tt.want.Kind || got.Value != tt.want.Value {
			t.Errorf("ParseText(%q) = %+v, %v; want %+v, %v", tt.in, got, p, tt.want, tt.p)
		}
	}
}
