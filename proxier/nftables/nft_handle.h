#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "base/status.h"
#include "proxier/nftables/nft_batch.h"
#include "proxier/nftables/nft_element_list.h"
#include "proxier/nftables/nft_elements.h"
#include "proxier/nftables/nft_layout.h"

namespace kpx {

struct NftChainDump {
  std::string type;  // base chains only
  std::optional<uint32_t> hook;
  int32_t priority = 0;
  std::vector<std::string> rules;  // NftRuleText of each rule, in order
};

struct NftSetDump {
  NftSetSpec spec;
  std::map<std::string, NftValue> elements;  // by key bytes
};

// What one kpx table holds, in a form both the kernel and the fake can produce.
struct NftTableDump {
  bool exists = false;
  std::map<std::string, NftChainDump> chains;
  std::map<std::string, NftSetDump> sets;
};

// The nftables mode's only door to the kernel. The real one speaks nfnetlink through libmnl;
// FakeNftHandle keeps the same objects in memory. Not thread-safe.
class NftHandle {
 public:
  virtual ~NftHandle() = default;
  // Applies the whole batch atomically or nothing of it. Errors name the refused object.
  virtual Status Commit(const NftBatch& batch) = 0;
  // Everything in `table` of `family` (exists=false when there is no such table).
  virtual Result<NftTableDump> Dump(IpFamily family, const std::string& table) = 0;
  // The same without the elements (every set's `elements` empty): a full sync reads those set
  // by set (DumpElements), into compact lists or straight into its diff, never as map nodes of
  // 150 bytes an element.
  virtual Result<NftTableDump> DumpStructure(IpFamily family, const std::string& table) = 0;
  // Calls `each` with every element of `set`, in the kernel's order (none when the table or set
  // does not exist). The key and value live for the call only.
  using ElementVisitor = std::function<void(std::string_view key, const NftValue& value)>;
  virtual Status DumpElements(IpFamily family, const std::string& table, const std::string& set,
                              const ElementVisitor& each) = 0;
  // The ruleset's generation id (it changes with every committed transaction, anyone's).
  virtual Result<uint32_t> Generation() = 0;
  // The elements of one set (empty when it does not exist).
  virtual Result<std::map<std::string, NftValue>> DumpSet(IpFamily family, const std::string& table,
                                                          const std::string& set) = 0;
};

}  // namespace kpx
