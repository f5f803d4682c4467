// Package wire reads and writes the compact binary encodings Tend keeps
// per patient: the conversation session and its sections (home-reading
// history and episodes, risk state). Those are decoded on every turn, so
// they are varints and length-prefixed strings rather than JSON, and one
// reader serves all of them: a bug fixed here is fixed for every format.
//
// A Reader remembers its first error instead of returning one per call,
// so that a decoder reads as a straight list of fields and checks Failed
// once at the end. Every length is bounded by the bytes that remain, so a
// corrupt length cannot make a decoder allocate without limit.
package wire
