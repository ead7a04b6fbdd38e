// Package dataplanetest has a fake of the dataplane's Firewall for tests
// of the sources and the programmer.
package dataplanetest
