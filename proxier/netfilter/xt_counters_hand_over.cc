#include "proxier/netfilter/xt_counters_hand_over.h"

// glibc's netinet/in.h before the kernel's headers, which then skip their own in.h definitions.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter/x_tables.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "base/unique_fd.h"

namespace kpx {

static_assert(sizeof(XtCountersHandOver::Count) == sizeof(xt_counters));
static_assert(offsetof(XtCountersHandOver::Count, packets) == offsetof(xt_counters, pcnt));
static_assert(offsetof(XtCountersHandOver::Count, bytes) == offsetof(xt_counters, bcnt));

XtCountersHandOver::XtCountersHandOver(int domain, int level, int option, std::string table,
                                       Counters old, std::vector<uint32_t> old_index)
    : domain_(domain),
      level_(level),
      option_(option),
      table_(std::move(table)),
      old_(std::move(old)),
      old_index_(std::move(old_index)) {}

bool XtCountersHandOver::needed() const {
  for (uint32_t i : old_index_) {
    if (i == kNew || i >= old_.size()) continue;
    if ((old_[i].packets | old_[i].bytes) != 0) return true;
  }
  return false;
}

Result<bool> XtCountersHandOver::Run() const {
  if (!needed()) return false;
  auto failed = [this](const char* what) {
    return Status::Error("x_tables " + table_ + ": " + what + ": " + std::strerror(errno));
  };
  if (table_.size() >= XT_TABLE_MAXNAMELEN) return Status::Error("table name too long: " + table_);
  // Zero-filled: new entries start from zero.
  std::vector<unsigned char> add(sizeof(xt_counters_info) +
                                 sizeof(xt_counters) * old_index_.size());
  auto* info = reinterpret_cast<xt_counters_info*>(add.data());
  std::memcpy(info->name, table_.data(), table_.size());
  info->num_counters = static_cast<unsigned int>(old_index_.size());
  for (size_t i = 0; i < old_index_.size(); ++i) {
    const uint32_t from = old_index_[i];
    if (from != kNew && from < old_.size()) {
      info->counters[i].pcnt = old_[from].packets;
      info->counters[i].bcnt = old_[from].bytes;
    }
  }
  const UniqueFd fd(socket(domain_, SOCK_RAW, IPPROTO_RAW));
  if (!fd.valid()) return failed("raw socket");
  if (setsockopt(fd.get(), level_, option_, info, static_cast<socklen_t>(add.size())) != 0) {
    return failed("restoring counters");
  }
  return true;
}

}  // namespace kpx
