//go:build race

package api_test

// raceDetector: the test binary was built with -race, which makes every
// turn several times slower.
const raceDetector = true
