#include "tests/support/xt_test_tables.h"

#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <gtest/gtest.h>

#include <cstring>

namespace kpx::xt_test {

size_t EntrySize(IpFamily f) {
  return f == IpFamily::kIPv4 ? sizeof(ipt_entry) : sizeof(ip6t_entry);
}

// An entry in the kernel's form with a standard target carrying `verdict`.
std::vector<unsigned char> KernelStandard(IpFamily f, int verdict) {
  const size_t size = EntrySize(f) + XT_ALIGN(sizeof(xt_standard_target));
  std::vector<unsigned char> e(size, 0);
  const uint16_t to = static_cast<uint16_t>(EntrySize(f));
  const uint16_t next = static_cast<uint16_t>(size);
  if (f == IpFamily::kIPv4) {
    reinterpret_cast<ipt_entry*>(e.data())->target_offset = to;
    reinterpret_cast<ipt_entry*>(e.data())->next_offset = next;
  } else {
    reinterpret_cast<ip6t_entry*>(e.data())->target_offset = to;
    reinterpret_cast<ip6t_entry*>(e.data())->next_offset = next;
  }
  auto* t = reinterpret_cast<xt_standard_target*>(e.data() + to);
  t->target.u.user.target_size = XT_ALIGN(sizeof(xt_standard_target));
  t->verdict = verdict;
  return e;
}

std::vector<unsigned char> KernelError(IpFamily f, const char* name) {
  const size_t size = EntrySize(f) + XT_ALIGN(sizeof(xt_error_target));
  std::vector<unsigned char> e(size, 0);
  const uint16_t to = static_cast<uint16_t>(EntrySize(f));
  if (f == IpFamily::kIPv4) {
    reinterpret_cast<ipt_entry*>(e.data())->target_offset = to;
    reinterpret_cast<ipt_entry*>(e.data())->next_offset = static_cast<uint16_t>(size);
  } else {
    reinterpret_cast<ip6t_entry*>(e.data())->target_offset = to;
    reinterpret_cast<ip6t_entry*>(e.data())->next_offset = static_cast<uint16_t>(size);
  }
  auto* t = reinterpret_cast<xt_error_target*>(e.data() + to);
  t->target.u.user.target_size = XT_ALIGN(sizeof(xt_error_target));
  std::strcpy(t->target.u.user.name, XT_ERROR_TARGET);
  std::strcpy(t->errorname, name);
  return e;
}

// A filter table as a fresh namespace has it: INPUT ACCEPT, FORWARD DROP, OUTPUT ACCEPT.
Table EmptyFilter(IpFamily f) {
  Table t;
  t.info.valid_hooks = (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_FORWARD) | (1 << NF_INET_LOCAL_OUT);
  const int policies[] = {-NF_ACCEPT - 1, -NF_DROP - 1, -NF_ACCEPT - 1};
  const int hooks[] = {NF_INET_LOCAL_IN, NF_INET_FORWARD, NF_INET_LOCAL_OUT};
  for (int i = 0; i < 3; ++i) {
    t.info.hook_entry[hooks[i]] = t.info.underflow[hooks[i]] =
        static_cast<uint32_t>(t.entries.size());
    auto e = KernelStandard(f, policies[i]);
    t.entries.insert(t.entries.end(), e.begin(), e.end());
  }
  auto e = KernelError(f, XT_ERROR_TARGET);
  t.entries.insert(t.entries.end(), e.begin(), e.end());
  t.info.num_entries = 4;
  t.info.size = static_cast<uint32_t>(t.entries.size());
  return t;
}

Result<Table> Edit(IpFamily f, const Table& t, const std::vector<XtChainEdit>& edits,
                   std::vector<uint32_t>* old_index) {
  auto blob = XtTableBlob::Parse(f, t.info, t.entries);
  if (!blob.ok()) return blob.status();
  auto r = blob->Apply(edits, 8);
  if (!r.ok()) return r.status();
  EXPECT_EQ(r->buffer.size(), r->info.size + 8);
  if (old_index) *old_index = r->old_index;
  return Table{r->info, std::vector<unsigned char>(r->buffer.begin() + 8, r->buffer.end())};
}

}  // namespace kpx::xt_test
