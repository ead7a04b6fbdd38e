// Package runner calls a sync function when asked, but never more often
// than a minimum interval, again after a failure with exponential backoff,
// and at least once per maximum interval. Time comes from an injectable
// Clock so tests step it by hand.
package runner
