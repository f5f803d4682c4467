package locales

import "gopkg.in/yaml.v3"

// Words are the answer and keyword words of one language, as written in
// locales/words/<lang>.yaml. Every list is matched against normalized input
// (see Normalize): lower case, accents folded, digits in ASCII.
type Words struct {
	Language string `yaml:"language"`
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

	File string `yaml:"-"`
}
