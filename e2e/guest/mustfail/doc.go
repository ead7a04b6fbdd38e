//go:build lab

// Package mustfail holds a guest test that is wrong on purpose. The host
// test TestLabHarnessReportsFailure runs it and requires the harness to
// report the failure: it proves a broken assertion inside the VM fails
// `make test`.
package mustfail
