// Package escalation holds what Tend promises when it hands a patient to a
// human: the priorities of tickets, how soon each must be answered (by
// default, and per care team), and whom a team pages while a ticket waits
// (its re-page ladder). The engine quotes these deadlines to patients
// ("someone will read it within 24 hours"), so they live in one place.
package escalation
