#include "base/page_block_supply.h"

#include <new>
#include <system_error>
#include <utility>

#include "base/helper_cpu.h"

namespace kpx {

PageBlockSupply::~PageBlockSupply() {
  if (ahead_.valid()) {
    try {
      ahead_.get();
    } catch (...) {  // a block that could not be made is one less to free
    }
  }
}

PageBlock PageBlockSupply::Take(size_t bytes, size_t next) {
  PageBlock block;
  if (ahead_.valid()) {
    try {
      PageBlock made = ahead_.get();
      if (made.size() >= bytes) {
        block = std::move(made);
        ++made_ahead_;
      }
    } catch (const std::bad_alloc&) {  // asked again below, where a refusal is the caller's
    }
  }
  if (block.data() == nullptr) block = PageBlock::Map(bytes);
  if (next > 0) {
    try {
      ahead_ = std::async(std::launch::async, [next] {
        const HelperCpu::Scope cpu;  // a sync's work, done on another core
        return PageBlock::Map(next);
      });
    } catch (const std::system_error&) {  // no thread to spare: blocks are made as they are taken
    }
  }
  return block;
}

}  // namespace kpx
