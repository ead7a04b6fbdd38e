// Package netdb turns addresses and ports into names the way ipvsadm does
// when it lists without -n: gethostbyaddr(3) and getservbyport(3) answered
// from /etc/hosts and /etc/services by glibc's "files" backend. It is pure
// Go (no cgo, so the binary stays static) and reads both files once.
//
// It deliberately does not query DNS: a listing must not hang on a
// resolver, and the kernel lab, where ipvsadm and ipvsd are compared, has
// "hosts: files" only.
package netdb
