package conversations

// lessonScripts run each bundled lesson (docs/clinical.md#lessons) three
// ways: both answers right, a wrong answer then the right one (the second
// explanation and the retry question), and two wrong answers to the first
// question (the comprehension-gap ticket). The right answer's number
// differs per question, so each script names it.
var lessonScripts = []script{
	{"bp-measuring-right", []string{"start bp-measuring", "> 2", "> 2"}},
	{"bp-measuring-wrong-then-right", []string{"start bp-measuring", "> 1", "> 2", "> 3", "> 2"}},
	{"bp-measuring-wrong-twice", []string{"start bp-measuring", "> 3", "> 1"}},
	{"why-take-pills-right", []string{"start why-take-pills", "> 2", "> 2"}},
	{"why-take-pills-wrong-then-right", []string{"start why-take-pills", "> 1", "> 2", "> 1", "> 2"}},
	{"why-take-pills-wrong-twice", []string{"start why-take-pills", "> 3", "> 3"}},
	{"rule-of-15-right", []string{"start rule-of-15", "> 2", "> 1"}},
	{"rule-of-15-wrong-then-right", []string{"start rule-of-15", "> 3", "> 2", "> 2", "> 1"}},
	{"rule-of-15-wrong-twice", []string{"start rule-of-15", "> 1", "> 1"}},
	{"foot-checks-right", []string{"start foot-checks", "> 3", "> 1"}},
	{"foot-checks-wrong-then-right", []string{"start foot-checks", "> 2", "> 3", "> 2", "> 1"}},
	{"foot-checks-wrong-twice", []string{"start foot-checks", "> 1", "> 2"}},
	{"salt-and-fluids-right", []string{"start salt-and-fluids", "> 2", "> 3"}},
	{"salt-and-fluids-wrong-then-right", []string{"start salt-and-fluids", "> 1", "> 2", "> 2", "> 3"}},
	{"salt-and-fluids-wrong-twice", []string{"start salt-and-fluids", "> 3", "> 1"}},
	{"stroke-signs-right", []string{"start stroke-signs", "> 2", "> 3"}},
	{"stroke-signs-wrong-then-right", []string{"start stroke-signs", "> 1", "> 2", "> 1", "> 3"}},
	{"stroke-signs-wrong-twice", []string{"start stroke-signs", "> 1", "> 3"}},
	// A lesson question left unanswered closes after a day, silently.
	{"stroke-signs-no-reply", []string{"start stroke-signs", "wait 25h"}},
}

func init() { scripts = append(scripts, lessonScripts...) }
