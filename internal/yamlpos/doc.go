// Package yamlpos decodes YAML files through yaml.v3 nodes so that every
// problem carries file:line:col and the field path: the one such helper,
// used by the inventory, the standby agent's configuration and the
// playbooks.
//
// A Decoder never stops at the first problem: it collects every error (and
// warning) with its position, follows aliases within a budget, refuses
// unknown and duplicate keys (suggesting the closest known key), and records
// where each path was written so that checks made after decoding (a missing
// required field, a value out of range) can still name a position.
//
// It does not know any schema: callers list their keys as Fields and decode
// values with the typed helpers (Str, Integer, Duration, ...) or their own.
// It does no I/O; ReadDocument parses bytes the caller read.
package yamlpos
