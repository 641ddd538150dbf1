#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/ip_address.h"
#include "base/status.h"
#include "proxier/netfilter/xt_table_blob.h"

// x_tables tables as the kernel holds them, built without a kernel: for the tests of what reads
// and edits them (XtTableBlob, XtSectionPlan).
namespace kpx::xt_test {

// A table as the kernel holds it.
struct Table {
  XtTableInfo info;
  std::vector<unsigned char> entries;
};

size_t EntrySize(IpFamily f);
// An entry in the kernel's form with a standard target carrying `verdict`.
std::vector<unsigned char> KernelStandard(IpFamily f, int verdict);
// A user chain's head (or the table's end): an ERROR target carrying `name`.
std::vector<unsigned char> KernelError(IpFamily f, const char* name);
// A filter table as a fresh namespace has it: INPUT ACCEPT, FORWARD DROP, OUTPUT ACCEPT.
Table EmptyFilter(IpFamily f);
// `t` with `edits` applied by XtTableBlob (8 bytes of headroom, checked and dropped).
Result<Table> Edit(IpFamily f, const Table& t, const std::vector<XtChainEdit>& edits,
                   std::vector<uint32_t>* old_index = nullptr);

}  // namespace kpx::xt_test
