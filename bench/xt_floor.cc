// kpx-xt-floor: the kernel's own cost of replacing the x_tables tables kpx loaded, the floor
// under every whole-table iptables commit (legacy restore and libiptc alike). Independent of
// kpx's code: reads each table with getsockopt(IPT_SO_GET_INFO, IPT_SO_GET_ENTRIES) and hands
// it back unchanged with setsockopt(IPT_SO_SET_REPLACE), timing each call. Run it inside the
// network namespace whose tables are measured (never against the host's):
//
//   ip netns exec NS kpx-xt-floor [--tables filter,nat] [--repeat R]
//
// Prints one CSV row: entries,bytes,get_ms,replace_ms,counters_ms — entries and bytes summed
// over the tables, get_ms the read (info + entries), replace_ms the SET_REPLACE calls,
// counters_ms the SET_ADD_COUNTERS calls that hand the replaced table's counters to the new one
// (what iptables-restore and every libiptc commit do right after the replace, so that rules
// kept across the commit keep counting); each summed over the tables, from the round with the
// median replace_ms of R rounds (default 3). Exit status 0, 1 on a failed call (message on
// stderr), 2 on usage errors.

// glibc's netinet/in.h before the kernel's headers, which then skip their own in.h definitions.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "kpx-xt-floor: %s\nusage: kpx-xt-floor [--tables T,...] [--repeat R]\n",
               why.c_str());
  std::exit(2);
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "kpx-xt-floor: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Round {
  unsigned entries = 0;
  unsigned bytes = 0;
  double get_ms = 0;
  double replace_ms = 0;
  double counters_ms = 0;
};

// Reads `table` and writes it back as it was; adds its figures to `round`.
void ReplaceUnchanged(int fd, const std::string& table, Round* round) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  ipt_getinfo info{};
  std::strncpy(info.name, table.c_str(), sizeof(info.name) - 1);
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_IP, IPT_SO_GET_INFO, &info, &len) != 0) {
    Fail("IPT_SO_GET_INFO " + table);
  }
  std::vector<char> get(sizeof(ipt_get_entries) + info.size);
  auto* entries = reinterpret_cast<ipt_get_entries*>(get.data());
  std::strncpy(entries->name, table.c_str(), sizeof(entries->name) - 1);
  entries->size = info.size;
  len = static_cast<socklen_t>(get.size());
  if (getsockopt(fd, IPPROTO_IP, IPT_SO_GET_ENTRIES, entries, &len) != 0) {
    Fail("IPT_SO_GET_ENTRIES " + table);
  }
  const auto t1 = Clock::now();

  // The same entries, hook entry points and underflows; the kernel hands the old counters back
  // into `counters`, one per old entry.
  std::vector<char> set(sizeof(ipt_replace) + info.size);
  auto* replace = reinterpret_cast<ipt_replace*>(set.data());
  std::memcpy(replace->name, info.name, sizeof(replace->name));
  replace->valid_hooks = info.valid_hooks;
  replace->num_entries = info.num_entries;
  replace->size = info.size;
  std::memcpy(replace->hook_entry, info.hook_entry, sizeof(replace->hook_entry));
  std::memcpy(replace->underflow, info.underflow, sizeof(replace->underflow));
  std::vector<xt_counters> counters(info.num_entries);
  replace->num_counters = info.num_entries;
  replace->counters = counters.data();
  std::memcpy(replace->entries, entries->entrytable, info.size);
  const auto t2 = Clock::now();
  if (setsockopt(fd, IPPROTO_IP, IPT_SO_SET_REPLACE, replace, static_cast<socklen_t>(set.size())) !=
      0) {
    Fail("IPT_SO_SET_REPLACE " + table);
  }
  const auto t3 = Clock::now();
  // The old counters back onto the same entries: the table is unchanged, so entry i is entry i.
  std::vector<char> add(sizeof(xt_counters_info) + counters.size() * sizeof(xt_counters));
  auto* info_add = reinterpret_cast<xt_counters_info*>(add.data());
  std::memcpy(info_add->name, info.name, sizeof(info_add->name));
  info_add->num_counters = info.num_entries;
  std::memcpy(add.data() + sizeof(xt_counters_info), counters.data(),
              counters.size() * sizeof(xt_counters));
  const auto t4 = Clock::now();
  if (setsockopt(fd, IPPROTO_IP, IPT_SO_SET_ADD_COUNTERS, add.data(),
                 static_cast<socklen_t>(add.size())) != 0) {
    Fail("IPT_SO_SET_ADD_COUNTERS " + table);
  }
  const auto t5 = Clock::now();
  round->counters_ms += Ms(t5 - t4);
  round->entries += info.num_entries;
  round->bytes += info.size;
  round->get_ms += Ms(t1 - t0);
  round->replace_ms += Ms(t3 - t2);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> tables = {"filter", "nat"};
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage("missing value for " + flag);
    const std::string v = argv[++i];
    if (flag == "--tables") {
      tables.clear();
      size_t start = 0;
      while (start <= v.size()) {
        const size_t comma = v.find(',', start);
        tables.push_back(v.substr(start, comma == std::string::npos ? comma : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (flag == "--repeat") {
      repeat = std::atoi(v.c_str());
    } else {
      Usage("unknown flag " + flag);
    }
  }
  if (repeat < 1 || repeat > 100) Usage("--repeat must be in 1..100");
  for (const std::string& t : tables) {
    if (t.empty() || t.size() >= XT_TABLE_MAXNAMELEN) Usage("bad table name \"" + t + "\"");
  }
  const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) Fail("raw socket (needs CAP_NET_RAW)");
  std::vector<Round> rounds(static_cast<size_t>(repeat));
  for (Round& r : rounds) {
    for (const std::string& t : tables) ReplaceUnchanged(fd, t, &r);
  }
  close(fd);
  std::sort(rounds.begin(), rounds.end(),
            [](const Round& a, const Round& b) { return a.replace_ms < b.replace_ms; });
  const Round& median = rounds[rounds.size() / 2];
  std::printf("%u,%u,%.1f,%.1f,%.1f\n", median.entries, median.bytes, median.get_ms,
              median.replace_ms, median.counters_ms);
  return 0;
}
