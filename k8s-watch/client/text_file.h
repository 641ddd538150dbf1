#pragma once

#include <string>

#include "base/status.h"

namespace kpx {

// Whole-file reads for configuration material (kubeconfigs, PEM files, tokens). Errors name the
// path and the errno text, never the content, since these files hold secrets.
class TextFile {
 public:
  static Result<std::string> Read(const std::string& path);
};

}  // namespace kpx
