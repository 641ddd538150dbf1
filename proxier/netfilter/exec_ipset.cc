#include "proxier/netfilter/exec_ipset.h"

namespace kpx {
namespace {

Status Check(const Result<CommandOutput>& r, const std::string& what) {
  if (!r.ok()) return Status::Error(what + ": " + r.status().message());
  if (r->exit_code != 0) {
    return Status::Error(what + " exited " + std::to_string(r->exit_code) + ": " + r->err);
  }
  return Status::Ok();
}

}  // namespace

ExecIpset::ExecIpset(std::shared_ptr<CommandExecutor> executor, std::string binary)
    : executor_(std::move(executor)), binary_(std::move(binary)) {}

Status ExecIpset::Restore(std::string_view text) {
  return Check(executor_->Run({binary_, "restore", "-exist"}, text), "ipset restore");
}

Result<std::string> ExecIpset::Save() {
  auto r = executor_->Run({binary_, "save"}, "");
  if (auto s = Check(r, "ipset save"); !s.ok()) return s;
  return r->out;
}

Status ExecIpset::Destroy(const std::string& name) {
  auto r = executor_->Run({binary_, "destroy", name}, "");
  if (!r.ok()) return Status::Error("ipset destroy: " + r.status().message());
  // A set that does not exist is already where we want it.
  if (r->exit_code != 0 && r->err.find("does not exist") == std::string::npos) {
    return Status::Error("ipset destroy " + name + ": " + r->err);
  }
  return Status::Ok();
}

}  // namespace kpx
