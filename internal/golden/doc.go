// Package golden compares a test's output with a file checked into
// testdata/, the way Tend's transcript tests pin what a patient gets: the
// text is reviewed in the diff, and go test PKG -update rewrites the files
// when a change is meant.
package golden
