#pragma once

#include <map>
#include <memory>
#include <string>

#include "proxier/userspace/relay_engine.h"

namespace kpx::testing {

// Records which frontends are open on which port, without sockets. Ports count up from 40000.
class FakeRelayEngine : public RelayEngine {
 public:
  Result<uint16_t> Open(std::shared_ptr<Frontend> frontend) override {
    if (fail_opens > 0) {
      --fail_opens;
      return Status::Error("injected open failure");
    }
    const uint16_t port = next_port++;
    open[frontend->key().ToString()] = {frontend, port};
    return port;
  }
  void Close(const std::shared_ptr<Frontend>& frontend) override {
    ++closes;
    open.erase(frontend->key().ToString());
  }
  UserspaceCounters Counters() const override { return UserspaceCounters{}; }
  DescriptorBudget Budget() const override { return budget; }

  std::map<std::string, std::pair<std::shared_ptr<Frontend>, uint16_t>> open;
  uint16_t next_port = 40000;
  int closes = 0;
  int fail_opens = 0;
  DescriptorBudget budget;  // unbounded unless a test sets it
};

}  // namespace kpx::testing
