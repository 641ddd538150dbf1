#pragma once

// libipset names the protocol of every element it parses ("tcp" in "10.0.0.1,tcp:80") and prints
// with getprotobyname(3) and getprotobynumber(3), and glibc answers each call by reading
// /etc/protocols again (nsswitch "protocols: db files": a stat of nsswitch.conf, then an open, a
// read and a close of the file): ~7 us a lookup natively, ~74 us under TCG, so 0.8 s (8 s under
// TCG) of every save or restore of IPVS mode's 110 000 entries at 10 000 services.
//
// This file's .cc defines both functions for the whole process, answered from one copy of the
// protocol database taken at the first lookup. The executable's definitions come before libc's
// for every shared library it loads, libipset included. The copy is never refreshed: an edit of
// /etc/protocols after kpx starts is not seen (the table is the IANA list and does not change).
// Thread-safe, unlike libc's versions; the returned entry is never freed or changed.

namespace kpx {

// Takes the copy now (idempotent). LibipsetIpset::Open calls it, which is also what links this
// object, and with it the definitions, into every program using libipset through kpx.
void LoadProtocolTable();

}  // namespace kpx
