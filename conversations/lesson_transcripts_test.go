package conversations

// lessonScripts run each bundled lesson (docs/clinical.md#lessons) three
// ways: both answers right, a wrong answer then the right one (the second
// explanation and the retry question), and two wrong answers to the first
// question (the comprehension-gap ticket). The right answer's number
// differs per question, so each script names it; each answer is followed
// by the confidence the patient gives it (1 not sure … 5 very sure).
var lessonScripts = []script{
	{"bp-measuring-right", []string{"start bp-measuring", "> 2", "> 5", "> 2", "> 4"}},
	{"bp-measuring-wrong-then-right", []string{"start bp-measuring", "> 1", "> 2", "> 2", "> 4", "> 3", "> 1", "> 2", "> 5"}},
	{"bp-measuring-wrong-twice", []string{"start bp-measuring", "> 3", "> 2", "> 1", "> 3"}},
	{"why-take-pills-right", []string{"start why-take-pills", "> 2", "> 5", "> 2", "> 4"}},
	{"why-take-pills-wrong-then-right", []string{"start why-take-pills", "> 1", "> 2", "> 2", "> 4", "> 1", "> 1", "> 2", "> 5"}},
	{"why-take-pills-wrong-twice", []string{"start why-take-pills", "> 3", "> 2", "> 3", "> 3"}},
	{"rule-of-15-right", []string{"start rule-of-15", "> 2", "> 5", "> 1", "> 4"}},
	{"rule-of-15-wrong-then-right", []string{"start rule-of-15", "> 3", "> 2", "> 2", "> 4", "> 2", "> 1", "> 1", "> 5"}},
	{"rule-of-15-wrong-twice", []string{"start rule-of-15", "> 1", "> 2", "> 1", "> 3"}},
	{"foot-checks-right", []string{"start foot-checks", "> 3", "> 5", "> 1", "> 4"}},
	{"foot-checks-wrong-then-right", []string{"start foot-checks", "> 2", "> 2", "> 3", "> 4", "> 2", "> 1", "> 1", "> 5"}},
	{"foot-checks-wrong-twice", []string{"start foot-checks", "> 1", "> 2", "> 2", "> 3"}},
	{"salt-and-fluids-right", []string{"start salt-and-fluids", "> 2", "> 5", "> 3", "> 4"}},
	{"salt-and-fluids-wrong-then-right", []string{"start salt-and-fluids", "> 1", "> 2", "> 2", "> 4", "> 2", "> 1", "> 3", "> 5"}},
	{"salt-and-fluids-wrong-twice", []string{"start salt-and-fluids", "> 3", "> 2", "> 1", "> 3"}},
	{"stroke-signs-right", []string{"start stroke-signs", "> 2", "> 5", "> 3", "> 4"}},
	{"stroke-signs-wrong-then-right", []string{"start stroke-signs", "> 1", "> 2", "> 2", "> 4", "> 1", "> 1", "> 3", "> 5"}},
	{"stroke-signs-wrong-twice", []string{"start stroke-signs", "> 1", "> 2", "> 3", "> 3"}},
	// A lesson question left unanswered closes after a day, silently.
	{"stroke-signs-no-reply", []string{"start stroke-signs", "wait 25h"}},
}

func init() { scripts = append(scripts, lessonScripts...) }
