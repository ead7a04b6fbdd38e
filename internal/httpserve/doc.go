// Package httpserve runs the daemons' small HTTP endpoints (metrics,
// health) for the lifetime of a context.
package httpserve
