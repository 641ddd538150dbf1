#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "proxier/netfilter/ipset.h"

namespace kpx {

// In-memory ipsets understanding the restore lines kpx writes (create/add/del/flush/destroy with
// -exist semantics). Destroy of a set marked as referenced fails, like the kernel's EBUSY.
class FakeIpset : public Ipset {
 public:
  struct Set {
    std::string type;
    std::string options;  // the rest of the create line
    std::set<std::string> entries;
  };

  Status Restore(std::string_view text) override;
  Result<std::string> Save() override;
  Status Destroy(const std::string& name) override;

  const std::map<std::string, Set>& sets() const { return sets_; }
  const Set* Find(const std::string& name) const;
  // Simulates an iptables rule using the set.
  void SetReferenced(const std::string& name, bool referenced);
  const std::vector<std::string>& restores() const { return restores_; }
  void FailNextRestores(int count) { fail_restores_ = count; }

 private:
  std::map<std::string, Set> sets_;
  std::set<std::string> referenced_;
  std::vector<std::string> restores_;
  int fail_restores_ = 0;
};

}  // namespace kpx
