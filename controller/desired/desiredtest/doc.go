// Package desiredtest builds desired-state values for tests in a line:
// keys, real servers and virtual servers from "address:port" strings.
package desiredtest
