#include "proxier/netfilter/protocol_table.h"

#include <netdb.h>

#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace kpx {
namespace {

// One protocol with storage for the protoent that points into it.
struct Protocol {
  std::string name;
  std::vector<std::string> aliases;
  std::vector<char*> alias_ptrs;  // null-terminated, into `aliases`
  protoent entry{};
};

// A deque: entries never move, so the pointers handed out stay valid.
std::deque<Protocol>& Table() {
  static std::deque<Protocol> table;
  return table;
}

void Load() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::deque<Protocol>& table = Table();
    // Enumeration reads the database once, front to back; it is not one of the functions this
    // file replaces.
    protoent buf{};
    protoent* got = nullptr;
    std::vector<char> scratch(4096);
    setprotoent(0);
    while (true) {
      const int err = getprotoent_r(&buf, scratch.data(), scratch.size(), &got);
      if (err == ERANGE) {
        scratch.resize(scratch.size() * 2);
        continue;
      }
      if (err != 0 || got == nullptr) break;
      Protocol& p = table.emplace_back();
      p.name = got->p_name;
      for (char** a = got->p_aliases; a != nullptr && *a != nullptr; ++a)
        p.aliases.emplace_back(*a);
      for (std::string& a : p.aliases) p.alias_ptrs.push_back(a.data());
      p.alias_ptrs.push_back(nullptr);
      p.entry.p_name = p.name.data();
      p.entry.p_aliases = p.alias_ptrs.data();
      p.entry.p_proto = got->p_proto;
    }
    endprotoent();
  });
}

}  // namespace

void LoadProtocolTable() { Load(); }

}  // namespace kpx

// glibc's files backend matches names and aliases exactly (strcmp) and returns the first entry of
// the file that matches; so do these.
extern "C" protoent* getprotobyname(const char* name) {
  kpx::Load();
  if (name == nullptr) return nullptr;
  for (kpx::Protocol& p : kpx::Table()) {
    if (p.name == name) return &p.entry;
    for (const std::string& a : p.aliases) {
      if (a == name) return &p.entry;
    }
  }
  return nullptr;
}

extern "C" protoent* getprotobynumber(int proto) {
  kpx::Load();
  for (kpx::Protocol& p : kpx::Table()) {
    if (p.entry.p_proto == proto) return &p.entry;
  }
  return nullptr;
}
