// Package e2e tests gcache as a team adopts it, in a module of its own:
// see adopt_test.go.
package e2e
