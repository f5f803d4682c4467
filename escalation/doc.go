// Package escalation holds what Tend promises when it hands a patient to a
// human: the priorities of tickets and how soon each must be answered. The
// engine quotes these deadlines to patients ("someone will contact you within
// 4 hours"), so they live in one place.
package escalation
