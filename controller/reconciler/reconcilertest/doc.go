// Package reconcilertest provides stateful fakes of the reconciler's
// narrow interfaces (AddressBinder, ConntrackCleaner) for tests that run
// without a kernel.
package reconcilertest
