//go:build race

package live

// raceEnabled builds the server with the race detector when the tests run
// with it, so that a data race in the server fails the suite too.
const raceEnabled = true
