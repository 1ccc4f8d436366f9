// Package dnsupdate changes and reads the address records of one name on a
// zone's authoritative primary: RFC 2136 dynamic updates signed with TSIG
// (RFC 8945), sent as a compare-and-swap when the caller says what the record
// should hold before the change.
//
// A Client talks to one server and one zone. Replace swaps the A and AAAA sets
// of a name in a single UPDATE, optionally guarded by a value-dependent
// prerequisite (RFC 2136 §2.4.2), and then checks that the primary answers the
// new set. Lookup asks the server itself, never a resolver, so it sees the
// zone's current content. Verify waits until other servers (secondaries)
// answer a given set.
//
// Keys are read from BIND key files as tsig-keygen writes them. A Key never
// prints, logs or returns its secret.
//
// The package does not know about services, placements or the inventory; it
// does not resolve through recursive resolvers and it does not manage zones,
// only the A and AAAA records of names inside one zone.
package dnsupdate
