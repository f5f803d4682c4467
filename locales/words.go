package locales

import "gopkg.in/yaml.v3"

// Words are the answer and keyword words of one language, as written in
// locales/words/<lang>.yaml. Every list is matched against normalized input
// (see Normalize): lower case, accents folded, digits in ASCII.
type Words struct {
	Language string `yaml:"language"`
	// Autonym is the language's own name in its own script ("Tiếng
	// Việt", "العربية"): the LANGUAGES reply lists every autonym, since a
	// patient who cannot read the current language can still find theirs.
	Autonym string `yaml:"autonym"`
	// Review says who checked the translation and how, so that lint and the
	// API can tell a clinic which languages are drafts.
	Review Review `yaml:"review"`
	// Languages ask for the list of bundled languages (LANGUAGES).
	Languages []string `yaml:"languages"`
	// Names switch the patient to this language when a message is exactly one of them.
	Names []string `yaml:"names"`
	// Stop opts out when a message is exactly one of them.
	Stop []string `yaml:"stop"`
	// Revoke opts out when a message contains one of them ("stop texting me").
	Revoke []string `yaml:"revoke"`
	// Start opts back in.
	Start []string `yaml:"start"`
	// Yes opts back in only while the patient is opted out.
	Yes []string `yaml:"yes"`
	// Help asks for the help text.
	Help []string `yaml:"help"`
	// Human asks for a nurse or care coach.
	Human []string `yaml:"human"`
	// Emergency is the phrase list of earlier releases, now the lexicon in
	// locales/safety/<lang>.yaml; it is kept only to say so, with its line.
	Emergency yaml.Node `yaml:"emergency"`
	// Answers are word classes a flow's choices refer to (yes, no, taken, ...).
	Answers map[string][]string `yaml:"answers"`
	// Readings are the words of a typed home reading ("BP 150/95",
	// "peso 82,4"): the readings package's parser matches them, in every
	// language at once, since a patient may name a reading in one language
	// and answer flows in another.
	Readings ReadingWords `yaml:"readings"`

	File string `yaml:"-"`
}

// Review statuses, weakest first. A draft works; a clinic is told before it
// enrolls patients in one.
const (
	ReviewDraft     = "draft"
	ReviewCommunity = "community-reviewed"
	ReviewClinician = "clinician-reviewed"
)

// ReviewStatuses lists the statuses a words file may state.
func ReviewStatuses() []string { return []string{ReviewDraft, ReviewCommunity, ReviewClinician} }

// Review is a language's review record: its status, who reviewed it and
// when (YYYY-MM-DD).
type Review struct {
	Status string `yaml:"status"`
	By     string `yaml:"by"`
	Date   string `yaml:"date"`
}

// ReadingWords name home readings and their units in one language. Keys are
// the readings package's names (kinds: blood_pressure, weight, glucose,
// spo2, heart_rate; units: mmHg, kg, lb, mg/dL, mmol/L, %, /min); lint
// checks them, as this package does not know the readings package. Every
// entry is normalized like the other word lists, so "mg/dL" is "mg dl":
// the parser skips the slash between a unit's words.
type ReadingWords struct {
	// Kinds are the words that name a reading ("bp", "presion arterial").
	Kinds map[string][]string `yaml:"kinds"`
	// Units are the words of each unit ("pounds", "libras"). "%" needs no
	// word: the parser knows the sign.
	Units map[string][]string `yaml:"units"`
	// Over joins systolic and diastolic ("150 over 95", "150 sobre 95"),
	// as "/" and "-" do in every language.
	Over []string `yaml:"over"`
}
