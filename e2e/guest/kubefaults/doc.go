//go:build lab

// Package kubefaults runs inside the lab VM: `ipvsd run` against the real
// kube-apiserver on the host (e2e/kubefaults_test.go created its Services)
// is killed with SIGKILL at random moments of its cold sync, with the API
// server stopped and started during some of them, and one clean start must
// then leave exactly the desired table, foreign services untouched and an
// ownership record that names exactly what exists of ours.
package kubefaults
