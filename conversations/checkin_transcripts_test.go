package conversations

// checkinScripts run the check-in flow the risk tier's cadence starts
// (docs/clinical.md#risk-tiers): well, not well (a medium ticket, by number
// and by words), asking for a person, and no answer, which records
// nothing (silence is never risk points).
var checkinScripts = []script{
	{"check-in-well", []string{"start check-in", "> 1"}},
	{"check-in-unwell", []string{"start check-in", "> 2"}},
	{"check-in-unwell-words", []string{"start check-in", "> not so good"}},
	{"check-in-talk", []string{"start check-in", "> 3"}},
	{"check-in-no-reply", []string{"start check-in", "wait 25h"}},
}

func init() { scripts = append(scripts, checkinScripts...) }
