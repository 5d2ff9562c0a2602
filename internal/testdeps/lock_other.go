//go:build !unix

package testdeps

// lockFile is a no-op where flock does not exist (apt does not either).
func lockFile(string) (func(), error) { return func() {}, nil }
