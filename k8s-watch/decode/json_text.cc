#include "k8s-watch/decode/json_text.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>

#include <string>

namespace kpx {

namespace {

constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag;

size_t SkipSpace(std::string_view text, size_t pos) {
  while (pos < text.size() &&
         (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) {
    ++pos;
  }
  return pos;
}

// Parses the value starting at `pos`; returns the offset just past it.
Status ParseOne(std::string_view text, size_t pos, rapidjson::Document* out, size_t* end) {
  rapidjson::MemoryStream ms(text.data() + pos, text.size() - pos);
  out->ParseStream<kFlags>(ms);
  if (out->HasParseError()) {
    return Status::Error("JSON: " + std::string(rapidjson::GetParseError_En(out->GetParseError())) +
                         " at byte " + std::to_string(pos + out->GetErrorOffset()));
  }
  *end = pos + ms.Tell();
  return Status::Ok();
}

}  // namespace

Status JsonText::Parse(std::string_view text, rapidjson::Document* out) {
  size_t end = 0;
  if (Status s = ParseOne(text, 0, out, &end); !s.ok()) return s;
  end = SkipSpace(text, end);
  if (end != text.size()) {
    return Status::Error("JSON: unexpected data after the value at byte " + std::to_string(end));
  }
  return Status::Ok();
}

Status JsonText::ParseAll(std::string_view text, std::vector<rapidjson::Document>* out) {
  size_t pos = SkipSpace(text, 0);
  while (pos < text.size()) {
    rapidjson::Document doc;
    size_t end = 0;
    if (Status s = ParseOne(text, pos, &doc, &end); !s.ok()) return s;
    out->push_back(std::move(doc));
    pos = SkipSpace(text, end);
  }
  return Status::Ok();
}

}  // namespace kpx
