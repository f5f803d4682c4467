// Package enrollment holds what a clinic enrolls a patient with: phone,
// language, time zone, channels, programs, medicines, refills and
// appointments. They are plain values with no behaviour (but for the
// copy-on-write setter of a patient's addresses), shared by the
// store that keeps them, the engine that reads them (without importing the
// store: it does no I/O) and the API that takes them in. CheckDisplay is
// the one rule kept here: a medicine's name reaches patients' texts, so it
// is held to the form of a name (no links, numbers or addresses).
package enrollment
