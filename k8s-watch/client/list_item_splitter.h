#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kpx {

// Splits a Kubernetes list (a JSON object with an "items" array) into its items while its bytes
// arrive in arbitrary pieces, so a list is held one item at a time rather than whole: memory is
// bounded by the largest item, not by the list. It only tracks nesting, strings and escapes to
// find where each item begins and ends; the items and the rest of the list (the "envelope":
// kind, apiVersion, metadata, with "items":[] left empty) are parsed by the caller, which is
// where malformed JSON is caught. Not thread-safe.
//  - An item over `max_item` bytes is not kept: its bytes are skipped up to its end, and
//    on_oversized is told its size.
//  - The envelope over `max_envelope` bytes, text that is not one JSON object, or anything but
//    whitespace after it is an error (Feed returns false, error() says why).
class ListItemSplitter {
 public:
  struct Callbacks {
    // The envelope up to the start of the items, completed into a JSON document
    // (`{..."items":[]}`): its kind and apiVersion say how to decode the items. Optional.
    std::function<bool(std::string_view envelope)> on_items_start;
    // One item's complete text. Return false to stop.
    std::function<bool(std::string_view item)> on_item;
    // An item over max_item, skipped; `bytes` is its size.
    std::function<void(size_t bytes)> on_oversized;
  };

  ListItemSplitter(size_t max_item, size_t max_envelope)
      : max_item_(max_item), max_envelope_(max_envelope) {}

  // Consumes `bytes`. False when a callback stopped it or the text is not a list (error()).
  bool Feed(std::string_view bytes, const Callbacks& callbacks);
  // After the last byte: the envelope, or an error if the text ended before the list did.
  Result<std::string> Finish();
  const Status& error() const { return error_; }
  size_t items() const { return items_; }

 private:
  enum class Sink { kEnvelope, kItem, kNone };
  // Where an item in progress stands: inside a container, a string or a bare scalar.
  enum class ItemShape { kContainer, kString, kScalar };

  bool Fail(std::string message);
  // Moves bytes [run_start_, end) of the current piece to the current sink.
  bool Flush(std::string_view bytes, size_t end);
  bool EndItem(const Callbacks& callbacks);

  const size_t max_item_;
  const size_t max_envelope_;
  Status error_ = Status::Ok();
  std::string envelope_;
  std::string item_;
  size_t item_bytes_ = 0;  // the item's size so far, kept or not
  bool item_oversized_ = false;
  size_t items_ = 0;

  // Tokenizer state, across pieces.
  int depth_ = 0;  // open objects and arrays
  bool started_ = false;
  bool done_ = false;  // the top-level object closed
  bool in_string_ = false;
  bool escape_ = false;
  // The top-level object's keys: whether the next string at depth 1 is a key, the key just read
  // (only "items" matters, so at most 6 bytes are kept), and whether its value comes next.
  bool expect_key_ = false;
  bool reading_key_ = false;
  std::string key_;
  bool expect_value_ = false;
  bool in_items_ = false;  // inside the top-level "items" array
  bool in_item_ = false;   // inside one of its elements
  ItemShape shape_ = ItemShape::kContainer;
  Sink sink_ = Sink::kNone;
  size_t run_start_ = 0;
};

}  // namespace kpx
