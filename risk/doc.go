// Package risk is the patient's risk tier: a transparent points table
// (content/default/risk.yaml, each row giving its reason and source) applied
// to the clinical facts a patient's timeline brings (hospital and emergency
// visits, alert episodes, readings, dose replies and dispenses, teach-back
// misconceptions, social needs), with every point explained in words a
// nurse can check.
//
// It is pure, as the engine is: it imports nothing that does I/O, and the
// Runner hands it the events of a turn (Event, copied from the store's) and
// keeps what it returns in the session's "risk" section (State), so that a
// tier changes in the same commit as the event that changed it, and the
// nightly recomputation reads sessions, not timelines.
//
// Two things are deliberately not points. A patient who does not answer
// gets a separate reachability state that asks a person to check channel
// and language: scoring silence as risk moves patients whose language or
// channel is wrong into the wrong tier. And the acute override is not a
// score: while an acute ticket is open the tier is acute, whatever the
// points or a clinician's pin say, until a person closes the ticket.
package risk
