// Package content loads and checks Tend's program packs: the YAML programs
// and flows clinicians write, joined with the message catalogs and answer
// words of package locales.
//
// A pack is data, not code: adding a program or a language needs no Go. Load
// refuses a pack that lint finds broken, naming file and line, so that a
// server never starts with a flow that dead-ends or a patient who would read a
// message id instead of a sentence.
package content
