#include "k8s-watch/client/list_item_splitter.h"

namespace kpx {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// An item buffer larger than this is released after its item rather than kept for the next.
constexpr size_t kKeptItemCapacity = size_t{1} << 20;

}  // namespace

bool ListItemSplitter::Fail(std::string message) {
  error_ = Status::Error(std::move(message));
  return false;
}

bool ListItemSplitter::Flush(std::string_view bytes, size_t end) {
  const std::string_view run = bytes.substr(run_start_, end - run_start_);
  run_start_ = end;
  if (run.empty()) return true;
  switch (sink_) {
    case Sink::kEnvelope:
      if (envelope_.size() + run.size() > max_envelope_) {
        return Fail("the list without its items is over " + std::to_string(max_envelope_) +
                    " bytes");
      }
      envelope_.append(run);
      return true;
    case Sink::kItem:
      item_bytes_ += run.size();
      if (item_oversized_) return true;
      if (item_.size() + run.size() > max_item_) {
        // Dropped whole: nothing of it is kept while the rest streams past.
        item_oversized_ = true;
        std::string().swap(item_);
        return true;
      }
      item_.append(run);
      return true;
    case Sink::kNone:
      return true;
  }
  return true;
}

bool ListItemSplitter::EndItem(const Callbacks& callbacks) {
  in_item_ = false;
  sink_ = Sink::kNone;
  ++items_;
  bool go_on = true;
  if (item_oversized_) {
    if (callbacks.on_oversized) callbacks.on_oversized(item_bytes_);
  } else if (callbacks.on_item) {
    go_on = callbacks.on_item(item_);
  }
  item_.clear();
  if (item_.capacity() > kKeptItemCapacity) std::string().swap(item_);
  item_bytes_ = 0;
  item_oversized_ = false;
  return go_on;
}

bool ListItemSplitter::Feed(std::string_view bytes, const Callbacks& callbacks) {
  if (!error_.ok()) return false;
  run_start_ = 0;
  // Switches the sink at byte i: what came before it goes to the old one.
  auto switch_to = [&](size_t i, Sink sink) {
    if (!Flush(bytes, i)) return false;
    sink_ = sink;
    return true;
  };
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
        if (reading_key_) {
          reading_key_ = false;
        } else if (in_item_ && shape_ == ItemShape::kString) {
          if (!Flush(bytes, i + 1) || !EndItem(callbacks)) return false;
        }
        continue;
      }
      if (reading_key_ && key_.size() <= 5) key_.push_back(c);
      continue;
    }
    if (IsSpace(c)) {
      if (in_item_ && shape_ == ItemShape::kScalar) {
        if (!Flush(bytes, i) || !EndItem(callbacks)) return false;
      }
      continue;
    }
    if (done_) return Fail("data after the end of the list");
    if (!started_) {
      if (c != '{') return Fail("not a JSON object");
      started_ = true;
      depth_ = 1;
      expect_key_ = true;
      if (!switch_to(i, Sink::kEnvelope)) return false;
      continue;
    }

    if (in_item_) {
      if (shape_ == ItemShape::kScalar) {
        if (c != ',' && c != ']') continue;  // a malformed scalar: its parse will say so
        if (!Flush(bytes, i) || !EndItem(callbacks)) return false;
        // The terminator is handled below, between elements.
      } else {
        if (c == '"') {
          in_string_ = true;
        } else if (c == '{' || c == '[') {
          ++depth_;
        } else if (c == '}' || c == ']') {
          if (--depth_ == 2 && (!Flush(bytes, i + 1) || !EndItem(callbacks))) return false;
        }
        continue;
      }
    }

    if (in_items_) {
      if (c == ',') continue;
      if (c == ']') {
        depth_ = 1;
        in_items_ = false;
        if (!switch_to(i, Sink::kEnvelope)) return false;
        continue;
      }
      if (!switch_to(i, Sink::kItem)) return false;
      in_item_ = true;
      if (c == '{' || c == '[') {
        shape_ = ItemShape::kContainer;
        depth_ = 3;
      } else if (c == '"') {
        shape_ = ItemShape::kString;
        in_string_ = true;
      } else {
        shape_ = ItemShape::kScalar;
      }
      continue;
    }

    // The envelope.
    const bool value_start = expect_value_ && c != ':';
    if (value_start) expect_value_ = false;
    if (value_start && depth_ == 1 && c == '[' && key_ == "items") {
      depth_ = 2;
      in_items_ = true;
      if (!Flush(bytes, i + 1)) return false;
      sink_ = Sink::kNone;
      if (callbacks.on_items_start && !callbacks.on_items_start(envelope_ + "]}")) return false;
      continue;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        if (depth_ == 1 && expect_key_) {
          expect_key_ = false;
          reading_key_ = true;
          key_.clear();
        }
        break;
      case ':':
        if (depth_ == 1) expect_value_ = true;
        break;
      case ',':
        if (depth_ == 1) expect_key_ = true;
        break;
      case '{':
      case '[':
        ++depth_;
        break;
      case '}':
      case ']':
        if (--depth_ == 0) done_ = true;
        break;
      default:
        break;
    }
  }
  return Flush(bytes, bytes.size());
}

Result<std::string> ListItemSplitter::Finish() {
  if (!error_.ok()) return error_;
  if (!started_) return Status::Error("empty list body");
  if (!done_ || in_string_) return Status::Error("the list ended early");
  return std::move(envelope_);
}

}  // namespace kpx
