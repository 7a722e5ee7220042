// Package config reads Tidewatch's settings from the environment once, validates them
// and fails with a message naming the offending setting. Only the settings listed by
// Names and Patterns exist; any other TIDEWATCH_* variable is an error, so a typo in an
// app setting stops startup instead of silently falling back to a default.
package config
