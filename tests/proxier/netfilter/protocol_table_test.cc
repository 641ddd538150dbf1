// kpx's getprotobyname/getprotobynumber (proxier/netfilter/protocol_table) against glibc's own,
// reached past them with dlsym(RTLD_NEXT): the same answer for every protocol of the database,
// for every alias, and for names and numbers it does not hold.
#include "proxier/netfilter/protocol_table.h"

#include <dlfcn.h>
#include <netdb.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kpx {
namespace {

using ByName = protoent* (*)(const char*);
using ByNumber = protoent* (*)(int);

// A protoent copied out of libc's static buffer, which its next call overwrites.
struct Entry {
  std::string name;
  std::vector<std::string> aliases;
  int proto = -1;
  bool operator==(const Entry&) const = default;
};

Entry Copy(const protoent* p) {
  Entry e;
  if (p == nullptr) return e;
  e.name = p->p_name;
  for (char** a = p->p_aliases; *a != nullptr; ++a) e.aliases.emplace_back(*a);
  e.proto = p->p_proto;
  return e;
}

TEST(ProtocolTableTest, AnswersAsGlibcDoesForTheWholeDatabase) {
  LoadProtocolTable();
  auto libc_by_name = reinterpret_cast<ByName>(dlsym(RTLD_NEXT, "getprotobyname"));
  auto libc_by_number = reinterpret_cast<ByNumber>(dlsym(RTLD_NEXT, "getprotobynumber"));
  ASSERT_NE(libc_by_name, nullptr);
  ASSERT_NE(libc_by_number, nullptr);
  ASSERT_NE(reinterpret_cast<void*>(libc_by_name), reinterpret_cast<void*>(&getprotobyname))
      << "this program's getprotobyname must be kpx's, not libc's";

  std::vector<Entry> all;
  setprotoent(0);
  while (const protoent* p = getprotoent()) all.push_back(Copy(p));
  endprotoent();
  ASSERT_GT(all.size(), 10u) << "/etc/protocols (netbase) is expected";

  for (const Entry& e : all) {
    EXPECT_EQ(Copy(getprotobyname(e.name.c_str())), Copy(libc_by_name(e.name.c_str()))) << e.name;
    for (const std::string& a : e.aliases) {
      EXPECT_EQ(Copy(getprotobyname(a.c_str())), Copy(libc_by_name(a.c_str()))) << a;
    }
    EXPECT_EQ(Copy(getprotobynumber(e.proto)), Copy(libc_by_number(e.proto))) << e.proto;
  }
  EXPECT_EQ(getprotobynumber(6)->p_proto, 6);
  EXPECT_STREQ(getprotobynumber(6)->p_name, "tcp");
  EXPECT_EQ(getprotobyname("udp")->p_proto, 17);
  EXPECT_EQ(getprotobyname("no-such-protocol"), nullptr);
  EXPECT_EQ(libc_by_name("no-such-protocol"), nullptr);
  EXPECT_EQ(getprotobyname("TCP") == nullptr, libc_by_name("TCP") == nullptr) << "case as glibc";
  EXPECT_EQ(getprotobynumber(-1), nullptr);
  EXPECT_EQ(getprotobyname(nullptr), nullptr);
}

}  // namespace
}  // namespace kpx
