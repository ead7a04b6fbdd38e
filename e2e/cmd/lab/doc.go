// Command lab drives the kernel lab by hand:
//
//	go run ./e2e/cmd/lab demo           # the built-in demo (make demo)
//	go run ./e2e/cmd/lab bench          # the kernel-lab benchmarks (make bench)
//	go run ./e2e/cmd/lab shell 'CMDS'   # run shell commands in a fresh VM
//
// It prints the guest's console and exits with the guest's status.
package main
