// Package nettest builds small test networks out of network namespaces and
// veth pairs, and runs servers and clients inside them. It is used by the
// kernel-lab tests (inside the VM) and by firewall tests on the host, always
// as root and always in namespaces it created itself.
//
// Sockets belong to the namespace they were created in, not to the thread
// that uses them: a listener or connection is created while the calling OS
// thread is switched into the namespace, and the thread is switched back
// before anything else runs on it.
package nettest
