#include "proxier/netfilter/xt_table_socket.h"

// glibc's netinet/in.h before the kernel's headers, which then skip their own in.h definitions.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <glog/logging.h>

#include "base/page_allocator.h"
#include "base/unique_fd.h"

namespace kpx {

static_assert(XtCountersHandOver::kNew == XtReplacement::kNew);

namespace {

// Attempts at read-plan-replace when other writers keep replacing the table in between.
constexpr int kAttempts = 4;

struct V4 {
  using GetInfo = ipt_getinfo;
  using GetEntries = ipt_get_entries;
  using Replace = ipt_replace;
  static constexpr int kDomain = AF_INET;
  static constexpr int kLevel = IPPROTO_IP;
  static constexpr int kGetInfo = IPT_SO_GET_INFO;
  static constexpr int kGetEntries = IPT_SO_GET_ENTRIES;
  static constexpr int kReplace = IPT_SO_SET_REPLACE;
  static constexpr int kAddCounters = IPT_SO_SET_ADD_COUNTERS;
  static constexpr IpFamily kFamily = IpFamily::kIPv4;
};

struct V6 {
  using GetInfo = ip6t_getinfo;
  using GetEntries = ip6t_get_entries;
  using Replace = ip6t_replace;
  static constexpr int kDomain = AF_INET6;
  static constexpr int kLevel = IPPROTO_IPV6;
  static constexpr int kGetInfo = IP6T_SO_GET_INFO;
  static constexpr int kGetEntries = IP6T_SO_GET_ENTRIES;
  static constexpr int kReplace = IP6T_SO_SET_REPLACE;
  static constexpr int kAddCounters = IP6T_SO_SET_ADD_COUNTERS;
  static constexpr IpFamily kFamily = IpFamily::kIPv6;
};

Status Errno(const std::string& table, const std::string& what) {
  return Status::Error("x_tables " + table + ": " + what + ": " + std::strerror(errno));
}

// A table as read: its info and the GET_ENTRIES buffer holding the entries.
template <typename F>
struct Snapshot {
  XtTableInfo info;
  XtBuffer buffer;
  std::span<const unsigned char> entries() const {
    return {buffer.data() + offsetof(typename F::GetEntries, entrytable), info.size};
  }
};

// What IPT_SO_GET_INFO says about the table now: its size, entry count and hook offsets.
template <typename F>
Result<XtTableInfo> GetInfo(int fd, const std::string& table) {
  typename F::GetInfo gi{};
  if (table.size() >= sizeof(gi.name)) return Status::Error("table name too long: " + table);
  std::memcpy(gi.name, table.data(), table.size());
  socklen_t len = sizeof(gi);
  if (getsockopt(fd, F::kLevel, F::kGetInfo, &gi, &len) != 0) return Errno(table, "get info");
  XtTableInfo info;
  info.valid_hooks = gi.valid_hooks;
  std::memcpy(info.hook_entry.data(), gi.hook_entry, sizeof(gi.hook_entry));
  std::memcpy(info.underflow.data(), gi.underflow, sizeof(gi.underflow));
  info.num_entries = gi.num_entries;
  info.size = gi.size;
  return info;
}

// Reads the table; EAGAIN (it changed between the two calls) is returned as a null Snapshot.
template <typename F>
Result<std::optional<Snapshot<F>>> ReadOnce(int fd, const std::string& table) {
  auto info = GetInfo<F>(fd, table);
  if (!info.ok()) return info.status();
  Snapshot<F> s;
  s.info = *info;
  s.buffer.resize(offsetof(typename F::GetEntries, entrytable) + s.info.size);
  auto* get = reinterpret_cast<typename F::GetEntries*>(s.buffer.data());
  // The buffer is not zero-filled; the name must end in NULs.
  std::memset(get, 0, offsetof(typename F::GetEntries, entrytable));
  std::memcpy(get->name, table.data(), table.size());
  get->size = s.info.size;
  socklen_t len = static_cast<socklen_t>(s.buffer.size());
  if (getsockopt(fd, F::kLevel, F::kGetEntries, get, &len) != 0) {
    if (errno == EAGAIN) return std::optional<Snapshot<F>>();
    return Errno(table, "get entries");
  }
  return std::optional<Snapshot<F>>(std::move(s));
}

template <typename F>
Status ReadFamily(const std::string& table, const std::function<void(const XtTableBlob&)>& use) {
  UniqueFd fd(socket(F::kDomain, SOCK_RAW, IPPROTO_RAW));
  if (fd.get() < 0) return Errno(table, "raw socket");
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    auto read = ReadOnce<F>(fd.get(), table);
    if (!read.ok()) return read.status();
    if (!read->has_value()) continue;
    auto blob = XtTableBlob::Parse(F::kFamily, (*read)->info, (*read)->entries());
    if (!blob.ok()) return Status::Error("x_tables " + table + ": " + blob.status().message());
    use(*blob);
    return Status::Ok();
  }
  return Status::Error("x_tables " + table + ": changed while being read " +
                       std::to_string(kAttempts) + " times in a row");
}

// The same table as far as IPT_SO_GET_INFO can tell: size, entry count and the offsets of the
// hooks the table has (the kernel reports the others as ~0, kpx's layout as 0).
bool SameInfo(const XtTableInfo& now, const XtTableInfo& kept) {
  if (now.valid_hooks != kept.valid_hooks || now.num_entries != kept.num_entries ||
      now.size != kept.size) {
    return false;
  }
  for (size_t h = 0; h < kept.hook_entry.size(); ++h) {
    if ((kept.valid_hooks & (1u << h)) == 0) continue;
    if (now.hook_entry[h] != kept.hook_entry[h] || now.underflow[h] != kept.underflow[h]) {
      return false;
    }
  }
  return true;
}

}  // namespace

template <typename F>
XtTableSocket::Kept* XtTableSocket::Trusted(int fd, const std::string& table) {
  // The watch is drained on every edit, so a write it saw is never forgotten: it drops them all.
  if (options_.others_may_have_written && options_.others_may_have_written()) {
    stats_.kept_dropped += kept_.size();
    if (!kept_.empty()) VLOG(2) << "x_tables: another process took the xtables lock, re-reading";
    kept_.clear();
  }
  auto it = kept_.find({F::kFamily, table});
  if (it == kept_.end()) return nullptr;
  const char* why = nullptr;
  if (std::chrono::steady_clock::now() - it->second.read_at >= options_.trust_kept_for) {
    why = "kept copy is due to be read back";
  } else if (auto now = GetInfo<F>(fd, table); !now.ok()) {
    why = "get info failed";
  } else if (!SameInfo(*now, it->second.table->info())) {
    why = "table changed by another writer";
  }
  if (why == nullptr) return &it->second;
  VLOG(2) << "x_tables " << table << ": " << why << ", re-reading";
  ++stats_.kept_dropped;
  kept_.erase(it);
  return nullptr;
}

template <typename F>
Result<bool> XtTableSocket::EditFamily(const std::string& table, const Planner& plan,
                                       XtRuleArena* spent) {
  if (table.size() >= XT_TABLE_MAXNAMELEN) return Status::Error("table name too long: " + table);
  UniqueFd fd(socket(F::kDomain, SOCK_RAW, IPPROTO_RAW));
  if (fd.get() < 0) return Errno(table, "raw socket");
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  const std::pair<IpFamily, std::string> key(F::kFamily, table);
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    const auto t0 = Clock::now();
    std::optional<Snapshot<F>> snap;
    std::optional<XtTableBlob> parsed;
    const XtTableBlob* blob = nullptr;
    Kept* kept = options_.keep_tables ? Trusted<F>(fd.get(), table) : nullptr;
    Clock::time_point read_at = t0;
    if (kept != nullptr) {
      blob = &*kept->table;
      read_at = kept->read_at;
      ++stats_.kept_uses;
    } else {
      auto read = ReadOnce<F>(fd.get(), table);
      if (!read.ok()) return read.status();
      if (!read->has_value()) continue;
      ++stats_.reads;
      snap = std::move(*read);
      auto p = XtTableBlob::Parse(F::kFamily, snap->info, snap->entries());
      if (!p.ok()) return Status::Error("x_tables " + table + ": " + p.status().message());
      parsed.emplace(std::move(*p));
      blob = &*parsed;
    }
    const uint32_t old_entries = blob->info().num_entries;
    const auto t1 = Clock::now();
    auto edits = plan(*blob);
    if (!edits.ok()) return edits.status();
    if (!edits->has_value()) return false;
    const auto t1e = Clock::now();
    // The kept copy is edited where it lies: no second table-sized buffer to fault in, and only
    // the bytes after the first change move. From here it is the new table or nothing.
    auto applied = kept != nullptr ? blob->ApplyInPlace(**edits, sizeof(typename F::Replace),
                                                        kept->buffer, spent)
                                   : blob->Apply(**edits, sizeof(typename F::Replace), spent);
    if (kept != nullptr) {
      kept_.erase(key);
      kept = nullptr;
      blob = nullptr;
    }
    if (!applied.ok())
      return Status::Error("x_tables " + table + ": " + applied.status().message());
    XtReplacement& r = applied.value();
    const auto t2 = Clock::now();
    auto* rep = reinterpret_cast<typename F::Replace*>(r.buffer.data());
    std::memcpy(rep->name, table.data(), table.size());
    rep->valid_hooks = r.info.valid_hooks;
    rep->num_entries = r.info.num_entries;
    rep->size = r.info.size;
    std::memcpy(rep->hook_entry, r.info.hook_entry.data(), sizeof(rep->hook_entry));
    std::memcpy(rep->underflow, r.info.underflow.data(), sizeof(rep->underflow));
    // The kernel refuses the replace (EAGAIN) unless num_counters is the table's entry count,
    // which is how a write by someone else since our read is noticed.
    XtCountersHandOver::Counters old(old_entries);
    rep->num_counters = old_entries;
    rep->counters = reinterpret_cast<xt_counters*>(old.data());
    if (setsockopt(fd.get(), F::kLevel, F::kReplace, rep,
                   static_cast<socklen_t>(r.buffer.size())) != 0) {
      // The kept copy, if any, was consumed by the edit; the next attempt reads the table back.
      if (errno == EAGAIN) {
        VLOG(2) << "x_tables " << table << " changed under us, attempt " << attempt;
        continue;
      }
      return Errno(table, "replace");
    }
    const auto t3 = Clock::now();
    // Counters of the entries that were kept, so foreign rules' counters survive our writes.
    XtCountersHandOver counters(F::kDomain, F::kLevel, F::kAddCounters, table, std::move(old),
                                std::move(r.old_index));
    std::string counters_note = "deferred";
    if (options_.defer_counters) {
      pending_.push_back(std::move(counters));
    } else if (auto made = counters.Run(); !made.ok()) {
      LOG(WARNING) << made.status().message();
    } else {
      counters_note =
          std::to_string(ms(Clock::now() - t3)) + " ms" + (*made ? "" : " (none counted)");
    }
    VLOG(2) << "x_tables " << table << ": " << old_entries << " -> " << r.info.num_entries
            << " entries, " << r.info.size << " bytes: " << (snap ? "read" : "kept copy") << " "
            << ms(t1 - t0) << " ms, plan " << ms(t1e - t1) << " ms, edit " << ms(t2 - t1e)
            << " ms (" << (r.populated >> 20) << " MiB populated alongside), replace "
            << ms(t3 - t2) << " ms, counters " << counters_note;
    if (options_.keep_tables) {
      Kept& k = kept_[key];
      // The new split points into r.buffer's bytes, which the move keeps where they are.
      k.table = std::move(r.table);
      k.buffer = std::move(r.buffer);
      k.read_at = read_at;
    }
    return true;
  }
  return Status::Error("x_tables " + table + ": replaced by another writer " +
                       std::to_string(kAttempts) + " times in a row, giving up");
}

std::vector<XtCountersHandOver> XtTableSocket::TakePendingCounters() {
  std::vector<XtCountersHandOver> out;
  out.swap(pending_);
  return out;
}

void XtTableSocket::Forget(IpFamily family, const std::string& table) {
  kept_.erase({family, table});
}

Result<bool> XtTableSocket::Edit(IpFamily family, const std::string& table, const Planner& plan,
                                 XtRuleArena* spent) {
  return family == IpFamily::kIPv4 ? EditFamily<V4>(table, plan, spent)
                                   : EditFamily<V6>(table, plan, spent);
}

Status XtTableSocket::Read(IpFamily family, const std::string& table,
                           const std::function<void(const XtTableBlob&)>& use) {
  return family == IpFamily::kIPv4 ? ReadFamily<V4>(table, use) : ReadFamily<V6>(table, use);
}

}  // namespace kpx
