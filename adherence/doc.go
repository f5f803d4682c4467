// Package adherence measures medication adherence the two ways a clinic
// needs, and keeps them apart.
//
// PDC, the proportion of days covered, is how payers and quality programs
// count adherence from pharmacy fills (the Pharmacy Quality Alliance's
// method, which CMS Star Ratings use): it says whether the patient had the
// medicine on hand. Dose replies, the answers to Tend's reminders, say
// whether the patient took it: taken, reported not taken, or no answer,
// and a reminder that never reached the patient is not a question they
// failed to answer. Silence is never counted as a missed dose; it is a
// question of reach, for a person to look into.
//
// The package is pure (no I/O, no clock): the Runner reads the timeline
// and the API, the risk score and tests call the functions here with
// events and dates.
package adherence
