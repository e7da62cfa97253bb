// Package procstat reads process and machine facts from Linux /proc: CPU time,
// resident memory (anonymous and file-backed) and storage I/O counters of a
// process (the servers under test) and a description of the machine a
// benchmark ran on.
//
// It is a leaf: standard library only. Parsers take the file contents so they
// can be tested without /proc; the Read* functions do the I/O. All functions
// are safe for concurrent use.
package procstat
