#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "base/status.h"

namespace kpx {

// One rule's iptables arguments ("-s", "10.0.0.1", "-j", "ACCEPT") as the ipt_entry/ip6t_entry
// bytes libiptc takes (its user form: a standard target names its verdict or the chain it jumps
// to). Exactly the vocabulary kpx renders (see LibiptcIptablesRunner); anything else is an error
// naming it. Pure: the kernel's struct layouts only, so a section's plan can encode on any thread.

// Appends the entry to `out`; on error, what it appended is left for the caller to cut.
Status EncodeIptEntryInto(IpFamily family, std::span<const std::string_view> args,
                          std::vector<unsigned char>& out);
// The vector forms, for a single rule and for tests.
Result<std::vector<unsigned char>> EncodeIptEntry(IpFamily family,
                                                  std::span<const std::string_view> args);
Result<std::vector<unsigned char>> EncodeIptEntry(IpFamily family,
                                                  const std::vector<std::string>& args);

}  // namespace kpx
