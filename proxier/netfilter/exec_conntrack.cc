#include "proxier/netfilter/exec_conntrack.h"

namespace kpx {

ExecConntrack::ExecConntrack(std::shared_ptr<CommandExecutor> executor, std::string binary)
    : executor_(std::move(executor)), binary_(std::move(binary)) {}

std::vector<std::string> ExecConntrack::Argv(const ConntrackFilter& f) const {
  std::vector<std::string> argv = {binary_, "-D",
                                   "-f",    f.family == IpFamily::kIPv4 ? "ipv4" : "ipv6",
                                   "-p",    std::string(ProtocolLowerName(f.protocol))};
  if (f.orig_dst) argv.insert(argv.end(), {"--orig-dst", f.orig_dst->ToString()});
  if (f.orig_dst_port)
    argv.insert(argv.end(), {"--orig-port-dst", std::to_string(*f.orig_dst_port)});
  if (f.dst_nat) argv.insert(argv.end(), {"--dst-nat", f.dst_nat->ToString()});
  return argv;
}

Status ExecConntrack::Delete(const ConntrackFilter& filter) {
  const auto argv = Argv(filter);
  auto out = executor_->Run(argv, "");
  if (!out.ok()) return out.status();
  if (out->exit_code == 0) return Status::Ok();
  // conntrack exits 1 when nothing matched; that is the common, successful case.
  if (out->err.find("0 flow entries") != std::string::npos) return Status::Ok();
  return Status::Error("conntrack " + filter.ToString() + ": exit " +
                       std::to_string(out->exit_code) + ": " + out->err);
}

}  // namespace kpx
