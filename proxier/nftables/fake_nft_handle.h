#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "proxier/nftables/nft_handle.h"

namespace kpx {

// A stateful in-memory nf_tables for unit tests: it parses the very bytes a batch would send
// (with libnftnl), applies them all-or-nothing with the kernel's main refusals (missing table,
// chain or set; element exists with other data; a set past its size; deleting what is missing
// or still referenced)
// and dumps what it holds in the same form as NetlinkNftHandle.
class FakeNftHandle : public NftHandle {
 public:
  using Key = std::pair<IpFamily, std::string>;
  using Tables = std::map<Key, NftTableDump>;
  // Handles built on the same `tables` see one kernel: a restarted kpx opens a new handle.
  explicit FakeNftHandle(std::shared_ptr<Tables> tables = std::make_shared<Tables>(),
                         std::shared_ptr<uint32_t> generation = std::make_shared<uint32_t>(1))
      : tables_(std::move(tables)), generation_(std::move(generation)) {}
  std::shared_ptr<uint32_t> generation() const { return generation_; }
  std::shared_ptr<Tables> tables() const { return tables_; }

  Status Commit(const NftBatch& batch) override;
  Result<NftTableDump> Dump(IpFamily family, const std::string& table) override;
  Result<NftTableDump> DumpStructure(IpFamily family, const std::string& table) override;
  Status DumpElements(IpFamily family, const std::string& table, const std::string& set,
                      const ElementVisitor& each) override;
  Result<uint32_t> Generation() override { return *generation_; }
  // Runs after every Dump and DumpStructure, with what was dumped: a test's concurrent writer.
  void AfterDump(std::function<void(IpFamily, const std::string&)> f) {
    after_dump_ = std::move(f);
  }
  // Runs after every successful Commit: a test's check of what the packet path would see
  // between transactions.
  void AfterCommit(std::function<void()> f) { after_commit_ = std::move(f); }
  Result<std::map<std::string, NftValue>> DumpSet(IpFamily family, const std::string& table,
                                                  const std::string& set) override;

  // Whether a set's size can be raised (Linux 6.5 and later); when not, the update is accepted
  // and ignored, as older kernels do. Every set's declared size is its maximum (ENFILE).
  void SetSizesUpdate(bool updates) { set_sizes_update_ = updates; }
  // The next Commit fails with `message` and changes nothing.
  void FailNextCommit(std::string message) { fail_next_ = std::move(message); }
  // Direct access for tests that simulate drift (someone deleting an element or a chain).
  NftTableDump* Table(IpFamily family, const std::string& table);

  size_t commits() const { return commits_; }
  size_t messages() const { return messages_; }
  size_t element_messages() const { return element_messages_; }

 private:
  std::shared_ptr<Tables> tables_;
  std::shared_ptr<uint32_t> generation_;
  std::function<void(IpFamily, const std::string&)> after_dump_;
  std::function<void()> after_commit_;
  std::optional<std::string> fail_next_;
  bool set_sizes_update_ = true;
  size_t commits_ = 0;
  size_t messages_ = 0;
  size_t element_messages_ = 0;
};

}  // namespace kpx
