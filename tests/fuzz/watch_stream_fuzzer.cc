// A watch response body as it arrives: cut into chunks at arbitrary points, split into lines,
// each line an event {"type": ..., "object": ...} applied to a reflector's cache, which calls a
// handler. The first byte chooses the chunk size, so the fuzzer explores framing too.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "k8s-watch/client/api_kinds.h"
#include "k8s-watch/client/line_splitter.h"
#include "k8s-watch/client/typed_reflector_store.h"
#include "k8s-watch/decode/json_text.h"

namespace {

class NullServiceHandler final : public kpx::ServiceHandler {
 public:
  void OnServiceAdd(const kpx::Service&) override {}
  void OnServiceUpdate(const kpx::Service&, const kpx::Service&) override {}
  void OnServiceDelete(const kpx::Service&) override {}
  void OnServiceSynced() override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  NullServiceHandler handler;
  std::mutex mu;
  kpx::SourceStats stats;
  kpx::TypedReflectorStore<kpx::ServiceKind> store(&handler, &mu, &stats);
  store.BeginList();
  store.CommitList();

  kpx::LineSplitter splitter(4096);
  const auto on_line = [&](std::string_view line) {
    rapidjson::Document event;
    if (!kpx::JsonText::Parse(line, &event).ok() || !event.IsObject()) return true;
    if (!event.HasMember("type") || !event["type"].IsString() || !event.HasMember("object")) {
      return true;
    }
    const std::string_view t(event["type"].GetString(), event["type"].GetStringLength());
    const rapidjson::Value& object = event["object"];
    if (t == "ADDED") store.Apply(kpx::WatchEventType::kAdded, object);
    if (t == "MODIFIED") store.Apply(kpx::WatchEventType::kModified, object);
    if (t == "DELETED") store.Apply(kpx::WatchEventType::kDeleted, object);
    return true;
  };
  for (size_t off = 0; off < body.size(); off += chunk) {
    splitter.Feed(body.substr(off, chunk), on_line);
  }
  return 0;
}
