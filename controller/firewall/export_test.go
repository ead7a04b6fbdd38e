package firewall

// Sample is sample for the external tests (package firewall_test), which
// can import firewalltest.
func Sample() Desired { return sample() }
