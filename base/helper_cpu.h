#pragma once

#include <chrono>

namespace kpx {

// CPU time that helper threads spent on work a caller waits for (a full render's second thread,
// a table's pages populated alongside, rule blocks made ahead), added up process-wide as each
// piece of work ends. A sync's CPU is its own thread's plus what this grew by meanwhile: the
// sync thread's clock alone misses whatever it handed to another core.
class HelperCpu {
 public:
  static void Add(std::chrono::nanoseconds cpu);
  static std::chrono::nanoseconds Total();

  // Adds the CPU the calling thread uses from its construction to its destruction.
  class Scope {
   public:
    Scope();
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    std::chrono::nanoseconds start_;
  };
};

}  // namespace kpx
